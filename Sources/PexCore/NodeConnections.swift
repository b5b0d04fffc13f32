import PexWire

extension Node {
    // MARK: Opening

    /// Starts an outbound connection.
    mutating func dial(_ address: Multiaddr, purpose: Connection.Purpose, expectedKey: PublicKey?) {
        let id = newConnectionID()
        let connection = Connection(
            id: id, direction: .outbound, purpose: purpose, remote: address, phase: .dialing,
            decoder: FrameDecoder(maxFrameSize: WireLimits.minFrameSize), openedAt: now,
            ourNonce: random.bytes(WireLimits.nonceLength), expectedKey: expectedKey, lastReceived: now,
            limits: PeerRateLimits(config: config.rateLimits, now: now), knownRecords: config.knownRecordsPerConnection)
        connections[id] = connection
        if let key = expectedKey { book.markAttempt(key, now: now) }
        metrics.connectionsOpened["outbound", default: 0] += 1
        emit(.dial(id, address: address))
    }

    mutating func accept(_ id: ConnectionID, remote: Multiaddr) {
        guard connections[id] == nil else { return }
        let ip = remote.ipAddress
        var refusal: (ErrorCode, String)?
        if let ip, bans.isBanned(.address(ip), now: now) {
            refusal = (.banned, "banned")
        } else if readyInboundCount(excluding: id) >= config.maxInbound && inboundEvictionVictim() == nil {
            // Full, and no peer could make room: a handshake would be wasted. When one could,
            // the eviction waits for the newcomer's Auth, so an unproven peer evicts nobody.
            refusal = (.tooManyConnections, "inbound connections full")
        } else if let ip, connections.values.filter({ $0.direction == .inbound && $0.remoteIP == ip }).count >= config.maxConnectionsPerIP {
            refusal = (.tooManyConnections, "too many connections from this address")
        } else if connections.values.filter({ !$0.isReady && $0.phase != .closing }).count >= config.maxPendingHandshakes {
            refusal = (.tooManyConnections, "too many pending handshakes")
        }
        let connection = Connection(
            id: id, direction: .inbound, purpose: .regular, remote: remote, phase: .awaitingHello,
            decoder: FrameDecoder(maxFrameSize: WireLimits.minFrameSize), openedAt: now,
            ourNonce: random.bytes(WireLimits.nonceLength), lastReceived: now,
            limits: PeerRateLimits(config: config.rateLimits, now: now), knownRecords: config.knownRecordsPerConnection)
        if let (code, message) = refusal {
            connection.phase = .closing
            connections[id] = connection
                metrics.connectionsOpened["refused", default: 0] += 1
            sendError(id, code: code, message: message, closing: true)
            emit(.close(id))
            return
        }
        connections[id] = connection
        metrics.connectionsOpened["inbound", default: 0] += 1
        sendHello(id)
    }

    mutating func connected(_ id: ConnectionID) {
        guard let c = connections[id], c.phase == .dialing else { return }
        c.phase = .awaitingHello
        c.lastReceived = now
        sendHello(id)
    }

    mutating func dialFailed(_ id: ConnectionID, reason: String) {
        guard let c = connections[id] else { return }
        noteDialFailure(c)
        remove(id, reason: "dial failed: \(reason)", cause: "dial failed")
    }

    /// Bookkeeping for a connection that never became ready.
    mutating func noteDialFailure(_ c: Connection) {
        guard c.direction == .outbound else { return }
        if let key = c.expectedKey {
            book.markFailure(key, now: now)
            persistPeer(key)
            if c.purpose == .feeler { resolveCollisionTest(key, reachable: false) }
        }
        if case let .bootstrap(address) = c.purpose {
            bootstrap.failed(address, now: now, config: config, random: &random)
        }
    }

    // MARK: Handshake

    mutating func sendHello(_ id: ConnectionID) {
        guard let c = connections[id] else { return }
        guard let own = ownRecord else {
            close(id, code: .internalError, message: "no valid own record", reason: "no own record")
            return
        }
        var capabilities: [Capability] = []
        if config.offerCompression { capabilities.append(.deflate) }
        if config.offerDeltaSync { capabilities.append(.deltaSync) }
        let hello = Frame.hello(Hello(
            networkID: config.networkID, record: own, nonce: c.ourNonce, capabilities: capabilities,
            maxFrameSize: UInt32(config.maxFrameSize), agent: config.agent))
        c.ourHello = hello.encoded()
        sendEncoded(id, c.ourHello, kind: hello.kind)
    }

    /// Validates the peer's Hello, then sends our Auth.
    mutating func handleHello(_ id: ConnectionID, _ hello: Hello, bytes: [UInt8]) {
        guard let c = connections[id] else { return }
        // Version: the highest both speak.
        guard hello.minVersion <= hello.maxVersion else {
            return handshakeFailure(id, code: .malformedFrame, message: "min_version above max_version", offence: .malformedFrame)
        }
        let version = min(hello.maxVersion, WireLimits.protocolVersion)
        guard version >= max(hello.minVersion, WireLimits.protocolVersion) else {
            return handshakeFailure(id, code: .unsupportedVersion, message: "no common protocol version", offence: nil)
        }
        guard hello.networkID == config.networkID else {
            return handshakeFailure(id, code: .wrongNetwork, message: "expected network \(config.networkID)", offence: nil)
        }
        guard let signed = hello.record else {
            return handshakeFailure(id, code: .authFailed, message: "Hello without a record", offence: .handshakeFailure)
        }
        let record: VerifiedPeerRecord
        switch validator.validate(signed, known: nil, now: now) {
        case let .accepted(verified, _):
            record = verified
        case let .rejected(rejection):
            metrics.reject(rejection.reason)
            if case .notAMember = rejection {
                return handshakeFailure(id, code: .notAMember, message: "not a member of this federation", offence: nil)
            }
            return handshakeFailure(id, code: .authFailed, message: "invalid record: \(rejection.reason)", offence: .handshakeFailure)
        default:
            return handshakeFailure(id, code: .authFailed, message: "invalid record", offence: .handshakeFailure)
        }
        if record.publicKey == identity.publicKey {
            ownAddresses.insert(c.remote)
            return handshakeFailure(id, code: .authFailed, message: "connected to itself", offence: nil)
        }
        if bans.isBanned(.key(record.publicKey), now: now) {
            return handshakeFailure(id, code: .banned, message: "banned", offence: nil)
        }
        // The Hello record is validated without the stored one (a peer may present an older
        // record), so equivocation must be checked here: otherwise two hosts sharing a key are
        // never caught when their records only ever arrive in Hellos.
        if let known = book.entry(for: record.publicKey)?.record, record.equivocates(with: known) {
            handleEquivocation(record, known)
            return handshakeFailure(id, code: .banned, message: "equivocation", offence: nil)
        }
        let maxFrame = hello.maxFrameSize == 0 ? WireLimits.maxFrameSize : Int(hello.maxFrameSize)
        guard maxFrame >= WireLimits.minFrameSize else {
            return handshakeFailure(id, code: .protocolViolation, message: "max_frame_size below 16 KiB", offence: .protocolViolation)
        }
        let ours = Set([config.offerCompression ? Capability.deflate : nil, config.offerDeltaSync ? .deltaSync : nil].compactMap { $0 })
        c.session = Connection.Session(
            version: version, deflate: ours.contains(.deflate) && hello.capabilities.contains(.deflate),
            deltaSync: ours.contains(.deltaSync) && hello.capabilities.contains(.deltaSync),
            peerMaxFrameSize: min(maxFrame, WireLimits.maxFrameSize))
        c.peerHello = bytes
        c.peerNonce = hello.nonce
        c.peerRecord = record
        c.phase = .awaitingAuth
        let role: AuthRole = c.direction == .outbound ? .initiator : .responder
        let (initiatorHello, responderHello) = c.direction == .outbound ? (c.ourHello, bytes) : (bytes, c.ourHello)
        let payload = AuthTranscript.payload(
            role: role, initiatorHello: initiatorHello, responderHello: responderHello, peerNonce: hello.nonce, crypto: crypto)
        send(id, .auth(Auth(signature: crypto.sign(payload: payload, domain: .auth, keyPair: identity))))
    }

    mutating func handleAuth(_ id: ConnectionID, _ auth: Auth) {
        guard let c = connections[id], let record = c.peerRecord else { return }
        let peerRole: AuthRole = c.direction == .outbound ? .responder : .initiator
        let (initiatorHello, responderHello) = c.direction == .outbound ? (c.ourHello, c.peerHello) : (c.peerHello, c.ourHello)
        let payload = AuthTranscript.payload(
            role: peerRole, initiatorHello: initiatorHello, responderHello: responderHello, peerNonce: c.ourNonce, crypto: crypto)
        guard crypto.verify(signature: auth.signature, payload: payload, domain: .auth, publicKey: record.publicKey) else {
            return handshakeFailure(id, code: .authFailed, message: "Auth signature does not verify", offence: .handshakeFailure)
        }
        c.phase = .ready
        c.readyAt = now
        // Our Hello went out at accept, the peer's Auth answers it: one round trip (plus the
        // peer's signing time), the first latency sample for inbound eviction.
        if c.direction == .inbound { c.minRoundTrip = now - c.openedAt }
        c.decoder.maxFrameSize = config.maxFrameSize
        becameReady(id)
    }

    /// A connection finished its handshake.
    mutating func becameReady(_ id: ConnectionID) {
        guard let c = connections[id], let record = c.peerRecord else { return }
        let key = record.publicKey
        // Two connections to one peer (both dialled at once): keep the one opened by the lower key.
        if let other = connectionOrder.first(where: { $0 != id && connections[$0]?.isReady == true && connections[$0]?.peerKey == key }),
           let existing = connections[other] {
            // Both sides must pick the same survivor: order by (initiator key, initiator nonce),
            // which both know, and keep the lower.
            let new = c.tieBreak(ownKey: identity.publicKey)
            let old = existing.tieBreak(ownKey: identity.publicKey)
            let loser = new.lexicographicallyPrecedes(old) ? other : id
            close(loser, code: .duplicateConnection, message: "already connected", reason: "duplicate connection")
            if loser == id { return }
        }
        // Only an authenticated peer may take an inbound slot from another (never a banned one:
        // bans are checked at accept and at Hello).
        if c.direction == .inbound && !makeRoomForInbound(id) { return }
        if c.direction == .outbound, let expected = c.expectedKey, expected != key {
            book.markFailure(expected, now: now)
        }
        if case let .bootstrap(address) = c.purpose { bootstrap.succeeded(address) }
        if c.direction == .inbound, let held = book.entry(for: key)?.record.seq, held < record.seq {
            connections[id]?.behindAtHello = held
        }
        learn(record, from: nil, via: id, sourceGroup: c.remoteIP?.netGroup ?? [])
        if c.direction == .outbound {
            // An address fetch proves reachability but is not a pick of the outbound selection:
            // like Bitcoin Core's ADDR_FETCH it does not move its peer to the tried table (which
            // would make the selection favour the bootstrap peer); promotion does.
            if case .bootstrap = c.purpose {} else { markOutboundSuccess(key) }
            persistPeer(key)
        }
        if c.purpose == .feeler {
            lastFeelerPeer = (key, now)
            resolveCollisionTest(key, reachable: true)
            if feelerSyncs(id, record) { return }
            close(id, code: .unspecified, message: "feeler done", reason: "feeler done", sendError: false)
            return
        }
        event(.connected(id, key, c.direction, remote: c.remote))
        if let own = ownRecord, connections[id]?.peerAllowance.tryTake(now: now) == true {
            send(id, .peerAnnouncement(PeerAnnouncement(records: [own])))
        }
        if pullsFrom(id) || pullsOnceFromInbound(id, key: key) { requestPeers(id) }
        updateState()
    }

    /// Inbound peers asked once although the node does not pull from them (§17.3): a peer whose
    /// Hello shows the node behind (if it leaves before answering, it was a feeler, and the node
    /// dials it back, §15.4); a peer the node's own latest feeler reached within the last
    /// `feelerInterval` (it is dialling back); and a peer the node holds a delta cursor for (the
    /// answer carries only what changed since, and after a healed partition it is how the side
    /// that gets no new outbound connection catches up).
    func pullsOnceFromInbound(_ id: ConnectionID, key: PublicKey) -> Bool {
        guard let c = connections[id], c.direction == .inbound, let session = c.session else { return false }
        if c.behindAtHello != nil { return true }
        if session.deltaSync, cursors[key] != nil { return true }
        guard let last = lastFeelerPeer, last.key == key else { return false }
        return now - last.at <= config.feelerInterval
    }

    /// An outbound connection to `key` works: the book moves it to the tried table, and a
    /// contested tried slot gets its test-before-evict.
    mutating func markOutboundSuccess(_ key: PublicKey) {
        if case let .collision(occupant, queued) = book.markSuccess(key, now: now), queued {
            bookExpiryDue = min(bookExpiryDue, now + config.addressBook.replacementGrace)
            scheduleCollisionTest(occupant)
        }
    }

    mutating func handshakeFailure(_ id: ConnectionID, code: ErrorCode, message: String, offence: Offence?) {
        guard let c = connections[id] else { return }
        metrics.handshakesFailed += 1
        noteDialFailure(c)
        // Close first, then score: a score that crosses a threshold closes too, and that Error
        // (PROTOCOL_VIOLATION or BANNED) must not replace the specified code (PROTOCOL.md §8.2).
        close(id, code: code, message: message, reason: "handshake failed: \(message)")
        if let offence { punish(id, offence) }
    }

    // MARK: Receiving

    mutating func receive(_ id: ConnectionID, _ bytes: [UInt8]) {
        guard let phase = connections[id]?.phase, phase != .dialing else { return }
        metrics.bytesIn += bytes.count
        // Mutated in place through the dictionary: a copy of the connection would copy the
        // decoder's buffer on every append.
        connections[id]!.bytesIn += bytes.count
        connections[id]!.lastReceived = now
        connections[id]!.decoder.append(bytes)
        while let current = connections[id]?.phase, current != .closing {
            let frameBytes: [UInt8]?
            do {
                frameBytes = try connections[id]!.decoder.nextFrameBytes()
            } catch {
                metrics.reject(error.reason)
                // Close with the specified code before scoring (see `handshakeFailure`).
                close(id, code: error.reason == "frame-too-large" ? .frameTooLarge : .malformedFrame,
                      message: error.description, reason: "bad frame: \(error.reason)")
                punish(id, error.reason == "frame-too-large" ? .oversized : .malformedFrame)
                return
            }
            guard let frameBytes else { return }
            process(id, frameBytes)
        }
    }

    mutating func process(_ id: ConnectionID, _ bytes: [UInt8]) {
        guard let c = connections[id] else { return }
        var frame: Frame
        do {
            frame = try Frame(decoding: bytes)
            if case .compressed = frame {
                guard c.isReady, c.session?.deflate == true else {
                    close(id, code: .protocolViolation, message: "compression not negotiated", reason: "unexpected compressed frame")
                    return punish(id, .protocolViolation)
                }
                frame = try frame.inflated(maxSize: config.maxFrameSize)
            }
        } catch {
            metrics.reject(error.reason)
            close(id, code: .malformedFrame, message: error.description, reason: "bad frame: \(error.reason)")
            return punish(id, error.reason == "too-many-records" ? .oversized : .malformedFrame)
        }
        metrics.framesIn[frame.kind, default: 0] += 1
        if c.isReady, !connections[id]!.limits.tryTake(.frames, now: now) {
            punish(id, .rateLimited)
            if connections[id]?.phase == .closing { return }
            return  // dropped
        }
        switch c.phase.step(for: frame) {
        case .handleHello:
            if case let .hello(hello) = frame { handleHello(id, hello, bytes: bytes) }
        case .handleAuth:
            if case let .auth(auth) = frame { handleAuth(id, auth) }
        case .handleError:
            if case let .error(error) = frame {
                // Never answered with an Error. A non-closing one changes nothing (§12); a closing
                // one ends the connection, and counts as a failed attempt only before it was ready.
                if !error.closing && error.code == .rateLimited {
                    // Our request was refused, not lost: forget it, or syncing with this peer
                    // would wait for the request timeout.
                    connections[id]?.pending = nil
                }
                if error.closing {
                    if !c.isReady { noteDialFailure(c) }
                    let cause = error.code.isKnown ? "peer \(error.code)" : "peer unknown"
                    remove(id, reason: "peer error: \(error.code): \(error.message)", cause: cause, closeTransport: true)
                }
            }
        case .ignoreUnknown:
            break
        case let .violation(what):
            close(id, code: .protocolViolation, message: what, reason: "protocol violation: \(what)")
            punish(id, .protocolViolation)
        case .handleReady:
            handleReadyFrame(id, frame)
        }
    }

    mutating func handleReadyFrame(_ id: ConnectionID, _ frame: Frame) {
        switch frame {
        case let .peerRequest(request):
            answer(id, request)
        case let .peerResponse(response):
            handleResponse(id, response)
        case let .peerAnnouncement(announcement):
            handleRecords(id, announcement.records, kind: "announcement")
        case let .peerUpdate(update):
            handleRecords(id, update.records, kind: "update")
        case let .ping(ping):
            if connections[id]!.limits.tryTake(.ping, now: now) {
                send(id, .pong(Pong(nonce: ping.nonce)))
            } else {
                punish(id, .rateLimited)
            }
        case let .pong(pong):
            if connections[id]?.pingNonce == pong.nonce {
                connections[id]?.pongReceivedAt = now
                if let sent = connections[id]?.pingSentAt {
                    let rtt = now - sent
                    let best = connections[id]?.minRoundTrip ?? rtt
                    connections[id]?.minRoundTrip = min(best, rtt)
                }
                connections[id]?.pingNonce = nil
                connections[id]?.pingSentAt = nil
            }
        case .hello, .auth, .error, .compressed, .unknown:
            break  // routed elsewhere by the transition table
        }
    }

    // MARK: Sending and closing

    /// Encodes, compresses when negotiated and worthwhile, frames and sends.
    mutating func send(_ id: ConnectionID, _ frame: Frame) {
        guard let c = connections[id], c.phase != .closing, c.phase != .dialing else { return }
        var wire = frame
        if c.session?.deflate == true, let deflated = frame.deflated() { wire = deflated }
        sendEncoded(id, wire.encoded(), kind: frame.kind)
    }

    mutating func sendEncoded(_ id: ConnectionID, _ bytes: [UInt8], kind: String) {
        let framed = FrameEncoder.delimit(bytes)
        connections[id]?.bytesOut += framed.count
        metrics.bytesOut += framed.count
        metrics.framesOut[kind, default: 0] += 1
        emit(.send(id, framed))
    }

    mutating func sendError(_ id: ConnectionID, code: ErrorCode, message: String, closing: Bool) {
        let text = String(decoding: Array(message.utf8.prefix(WireLimits.maxErrorMessageLength)), as: UTF8.self)
        sendEncoded(id, Frame.error(ErrorMessage(code: code, message: text, closing: closing)).encoded(), kind: "error")
    }

    /// Sends an Error (unless told not to), asks the driver to close, and forgets the connection
    /// once the transport reports it closed.
    mutating func close(_ id: ConnectionID, code: ErrorCode, message: String, reason: String, sendError withError: Bool = true) {
        guard let c = connections[id], c.phase != .closing else { return }
        if withError && c.phase != .dialing { sendError(id, code: code, message: message, closing: true) }
        let wasReady = c.isReady
        connections[id]?.phase = .closing
        connections[id]?.lastReceived = now
        metrics.closed(because: reason)
        emit(.close(id))
        if wasReady { event(.disconnected(id, c.peerKey, reason: reason)) }
        updateState()
    }

    mutating func transportClosed(_ id: ConnectionID, reason: String) {
        guard let c = connections[id] else { return }
        if c.phase != .closing && !c.isReady { noteDialFailure(c) }
        remove(id, reason: reason, cause: c.phase == .dialing ? "dial failed" : "transport")
        // The peer left a connection whose Hello showed us behind before we got its records:
        // it was its refresh feeler (§15.4), and we need one of our own to catch up.
        if c.isReady, c.direction == .inbound, c.exchanges == 0, let held = c.behindAtHello, let key = c.peerKey {
            dialBack(key, heldSeq: held)
        }
    }

    /// Forgets a connection. With `closeTransport`, also asks the driver to close it. `cause`
    /// names the close for the metrics unless `close` already counted it.
    mutating func remove(_ id: ConnectionID, reason: String, cause: String, closeTransport: Bool = false) {
        guard let c = connections[id] else { return }
        connections[id] = nil
        if c.phase != .closing { metrics.closed(because: cause) }
        if closeTransport && c.phase != .closing { emit(.close(id)) }
        if c.isReady { event(.disconnected(id, c.peerKey, reason: reason)) }
        updateState()
    }

    // MARK: Misbehaviour

    /// Scores an offence against the connection's peer (its key once known, else its IP).
    mutating func punish(_ id: ConnectionID, _ offence: Offence) {
        guard let c = connections[id] else { return }
        // Until the peer's Auth verified, its claimed key is unproven: anyone can put a member's
        // public record in a Hello. Offences before that are charged to the remote address.
        let subject: BanSubject
        // In an open network keys are free: the address answers for the keys behind it too, at
        // a share (PROTOCOL.md §20.2, key churn). In roster mode no fresh key gets in, and a
        // member's offences must not lock out the members sharing its address.
        var shared: IPAddress?
        if c.readyAt != nil, let key = c.peerKey {
            subject = .key(key)
            if config.roster == nil { shared = c.remoteIP }
        } else if let ip = c.remoteIP {
            subject = .address(ip)
        } else {
            return
        }
        // After the key's own verdict below, so its close code comes first.
        defer { if let shared { chargeAddress(shared, offence, id) } }
        let before = misbehaviour.score(of: subject, now: now)
        let verdict = misbehaviour.record(offence, subject: subject, now: now)
        // A ban drops the subject from the tracker (score 0 from then on): report the score
        // that reached the threshold instead.
        let score: Int
        if case .ban = verdict {
            let (sum, overflow) = before.addingReportingOverflow(max(misbehaviour.config.points(for: offence), 0))
            score = overflow ? .max : sum
        } else {
            score = misbehaviour.score(of: subject, now: now)
        }
        event(.misbehaviour(subject, offence: offence, score: score))
        switch verdict {
        case .none:
            break
        case .disconnect:
            // The code names the offence where PROTOCOL.md §12 has one for it.
            let code: ErrorCode
            switch offence {
            case .rateLimited: code = .rateLimited
            case .invalidRecord, .badSignature, .notAMember, .staleRecord: code = .invalidRecord
            default: code = .protocolViolation
            }
            close(id, code: code, message: "misbehaviour: \(offence.rawValue)", reason: "misbehaviour: \(offence.rawValue)")
        case let .ban(until):
            if case let .address(ip) = subject, config.labMode, ip.isLocal {
                // In lab mode every node shares the loopback address: banning it would refuse
                // the whole lab. The offender is disconnected instead.
                close(id, code: .protocolViolation, message: "misbehaviour: \(offence.rawValue)", reason: "misbehaviour: \(offence.rawValue)")
            } else {
                ban(subject, until: until, reason: offence.rawValue)
            }
        }
    }

    /// Charges an address its share of an offence of an authenticated key behind it; a ban
    /// refuses the address from then on and closes the offending connection.
    mutating func chargeAddress(_ ip: IPAddress, _ offence: Offence, _ id: ConnectionID) {
        // A disconnect verdict is ignored: the connection belongs to the key, whose own score
        // decides; the address only ever bans.
        guard case let .ban(until) = misbehaviour.recordAddressShare(offence, address: ip, now: now) else { return }
        // Every lab node shares the loopback address (§20.2): never banned.
        if config.labMode && ip.isLocal { return }
        ban(.address(ip), until: until, reason: offence.rawValue)
        // The address ban spares authenticated connections; the one that tipped it is the offender's.
        if connections[id]?.isReady == true {
            close(id, code: .banned, message: "banned: \(offence.rawValue)", reason: "banned: \(offence.rawValue)")
        }
        dropNewEntries(learnedFrom: ip)
    }

    /// Drops the new-table entries whose informant was in `ip`'s network group: most likely
    /// relayed by the peer just banned. Tried and protected entries stay, and so do the records
    /// of peers connected now (authenticated peers answer for themselves); an honest record
    /// among the dropped is learned again at the next synchronisation.
    mutating func dropNewEntries(learnedFrom ip: IPAddress) {
        let group = ip.netGroup
        let connected = Set(connections.values.filter(\.isReady).compactMap(\.peerKey))
        for entry in book.entries where entry.sourceGroup == group && !connected.contains(entry.publicKey) {
            guard case .new = entry.location, book.remove(entry.publicKey) != nil else { continue }
            syncLog.noteRemoval(entry.publicKey)
            persist(.removePeer(entry.publicKey))
            event(.peerEvicted(entry.publicKey, reason: "learned from a banned address"))
        }
    }

    /// The current misbehaviour score of a key or address (PROTOCOL.md §20.2).
    ///
    /// - Parameter subject: The key or address.
    /// - Returns: Its decayed score now; 0 when untracked or just banned (a ban forgets it).
    public func misbehaviourScore(of subject: BanSubject) -> Int {
        misbehaviour.score(of: subject, now: now)
    }

    mutating func ban(_ subject: BanSubject, until: Instant, reason: String) {
        // A full ban list refuses a ban that would end before all it holds; the connection is
        // still closed below.
        if let entry = bans.ban(subject, until: until, reason: reason) { persist(.ban(entry)) }
        metrics.bans += 1
        event(.banned(subject, until: until, reason: reason))
        for id in connectionOrder {
            guard let c = connections[id] else { continue }
            let hit: Bool
            switch subject {
            case let .key(key): hit = c.isReady && c.peerKey == key
            // An address ban stops unauthenticated traffic from it. Peers behind the same address
            // that proved their keys keep their connections: they answer for their own behaviour.
            case let .address(ip): hit = !c.isReady && c.remoteIP == ip
            }
            if hit { close(id, code: .banned, message: "banned: \(reason)", reason: "banned: \(reason)") }
        }
    }
}
