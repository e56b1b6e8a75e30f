/// A reader for the common feedback body, a flat JSON object of strings and numbers, giving the
/// same `FeedbackBody` as `JSONDecoder` or nil whenever it is not sure to: invalid JSON, escapes
/// in strings, nested values (`events`), a known field of another type, a repeated field, a
/// number `Double` cannot hold. The caller then decodes with `JSONDecoder`.
package enum FlatFeedbackJSON {
    package static func body(_ bytes: UnsafeBufferPointer<UInt8>) -> FeedbackBody? {
        var reader = Reader(bytes: bytes)
        return reader.object()
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var offset = 0

        /// The field a key names, or nil for one `FeedbackBody` does not have.
        enum Field { case user, item, event, value, requestID, eventID, events }

        mutating func object() -> FeedbackBody? {
            var body = FeedbackBody()
            var seen = Set<String>()
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            skipSpace()
            if take(UInt8(ascii: "}")) { return end() ? body : nil }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                guard seen.insert(key).inserted else { return nil }
                skipSpace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                guard offset < bytes.count else { return nil }
                let field = Self.field(key)
                switch bytes[offset] {
                case UInt8(ascii: "\""):
                    guard let text = string() else { return nil }
                    switch field {
                    case .user: body.user = text
                    case .item: body.item = text
                    case .event: body.event = text
                    case .requestID: body.requestID = text
                    case .eventID: body.eventID = text
                    case .value, .events: return nil
                    case nil: break
                    }
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard let number = number() else { return nil }
                    switch field {
                    case .value: body.value = number
                    case nil: break
                    default: return nil
                    }
                case UInt8(ascii: "n"):
                    // null: a missing value for every field (events: nil too, but the decoder says so).
                    guard literal("null"), field != .events else { return nil }
                case UInt8(ascii: "t"), UInt8(ascii: "f"):
                    guard field == nil, literal("true") || literal("false") else { return nil }
                default:
                    return nil
                }
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return end() ? body : nil
            }
        }

        static func field(_ key: String) -> Field? {
            switch key {
            case "user": .user
            case "item": .item
            case "event": .event
            case "value": .value
            case "request_id": .requestID
            case "event_id": .eventID
            case "events": .events
            default: nil
            }
        }

        mutating func end() -> Bool {
            skipSpace()
            return offset == bytes.count
        }

        mutating func skipSpace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard offset < bytes.count, bytes[offset] == byte else { return false }
            offset += 1
            return true
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard bytes.count - offset >= count else { return false }
            for index in 0..<count where bytes[offset + index] != word.utf8Start[index] { return false }
            offset += count
            return true
        }

        /// A string without escapes or control characters, valid UTF-8.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = offset
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                    offset += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                offset += 1
            }
            return nil
        }

        /// A number in JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), finite.
        mutating func number() -> Double? {
            let start = offset
            _ = take(UInt8(ascii: "-"))
            guard offset < bytes.count else { return nil }
            if bytes[offset] == UInt8(ascii: "0") {
                offset += 1
            } else if digits() == 0 {
                return nil
            }
            if take(UInt8(ascii: ".")), digits() == 0 { return nil }
            if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
                offset += 1
                if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
                if digits() == 0 { return nil }
            }
            guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self),
                let value = Double(text), value.isFinite
            else { return nil }
            return value
        }

        mutating func digits() -> Int {
            let start = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            return offset - start
        }
    }
}

