/// Listen addresses: `scheme://host:port` or `ipc://path`.
struct Address: Sendable, Equatable {
    var scheme: String
    var host: String
    var port: Int?
    var path: String

    /// Parses `text`, or says what is wrong with it.
    static func parse(_ text: String) -> Result<Address, AddressError> {
        guard let separator = text.range(of: "://") else {
            return .failure(AddressError("'\(text)' is not an address like scheme://host:port"))
        }
        let scheme = String(text[..<separator.lowerBound]).lowercased()
        let rest = String(text[separator.upperBound...])
        if scheme == "ipc" {
            guard !rest.isEmpty else { return .failure(AddressError("'\(text)' has no socket path")) }
            return .success(Address(scheme: scheme, host: "", port: nil, path: rest))
        }
        let authority =
            rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let host: String
        let portText: String?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(AddressError("'\(text)' has an unclosed '[' in its host"))
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            portText = after.hasPrefix(":") ? String(after.dropFirst()) : (after.isEmpty ? nil : String(after))
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = String(authority[authority.index(after: colon)...])
        } else {
            host = authority
            portText = nil
        }
        guard !host.isEmpty else { return .failure(AddressError("'\(text)' has no host")) }
        guard let portText else { return .failure(AddressError("'\(text)' has no port (use :0 to pick a free one)")) }
        guard let port = Int(portText), (0...65535).contains(port) else {
            return .failure(AddressError("'\(text)' has an invalid port '\(portText)' (0…65535)"))
        }
        return .success(Address(scheme: scheme, host: host, port: port, path: ""))
    }

    /// Unix sockets and the loopback interface stay on this machine.
    var isLocal: Bool { scheme == "ipc" || Self.isLoopback(host: host) }

    /// `localhost`, `::1` or an IPv4 address in 127.0.0.0/8.
    static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        let numbers = octets.compactMap { $0.allSatisfy(\.isASCII) ? UInt8($0) : nil }
        return numbers.count == 4 && numbers[0] == 127
    }
}

struct AddressError: Error, Sendable, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}
