print("pexd")
