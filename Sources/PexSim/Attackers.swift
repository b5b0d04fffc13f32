import PexCore
import PexWire

extension Scenarios {
    static func flood(_ p: ScenarioParams) -> ScenarioResult { federation(p) }
    static func eclipse(_ p: ScenarioParams) -> ScenarioResult { federation(p) }
    static func equivocate(_ p: ScenarioParams) -> ScenarioResult { federation(p) }
    static func replay(_ p: ScenarioParams) -> ScenarioResult { federation(p) }
}
