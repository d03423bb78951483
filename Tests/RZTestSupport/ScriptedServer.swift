import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server whose every answer is scripted by the test: a status and body, a delay, a
/// response cut off half-way, or a connection closed without a word. It speaks just enough HTTP for
/// libcurl (request line, headers, `Content-Length` bodies, keep-alive) and counts what it saw, so the
/// transport's retries and connection reuse can be checked from the server's side.
public final class ScriptedServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]  // lower-cased names
        public var body: Data
    }

    public enum Action: Sendable {
        case respond(status: Int, headers: [String: String] = [:], body: Data = Data())
        /// Wait, then respond (a slow server).
        case delay(seconds: Double, then: Response)
        /// Send the status line, headers promising `Content-Length` bytes and half the body, then close.
        case dieMidResponse
        /// Close the connection without answering (a process killed while it worked on the request).
        case closeWithoutAnswer

        public struct Response: Sendable {
            public var status: Int
            public var body: Data
            public init(status: Int, body: Data) {
                self.status = status
                self.body = body
            }
        }

        public static func json(_ status: Int, _ text: String) -> Action {
            .respond(status: status, headers: ["Content-Type": "application/json"], body: Data(text.utf8))
        }
    }

    /// `(request, n)`: n is 1 for the first request to this path, 2 for the second, ...
    public typealias Script = @Sendable (Request, Int) -> Action

    public let port: Int
    private let listener: Int32
    private let script: Script
    private let counts = Mutex<[String: Int]>([:])
    private let connectionCount = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    public init(port requested: Int = 0, script: @escaping Script) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(requested).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        self.script = script
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    public var url: URL { URL(string: "http://127.0.0.1:\(port)")! }  // a literal address and port: always valid

    /// Requests seen for `path` so far.
    public func requests(_ path: String) -> Int { counts.withLock { $0[path] ?? 0 } }

    /// TCP connections accepted so far.
    public var connections: Int { connectionCount.load(ordering: .relaxed) }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            connectionCount.add(1, ordering: .relaxed)
            let thread = Thread { [self] in serve(client) }
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer = Data()
        while let request = readRequest(fd, &buffer) {
            let n = counts.withLock { counts -> Int in
                counts[request.path, default: 0] += 1
                return counts[request.path] ?? 0
            }
            switch script(request, n) {
            case .respond(let status, let headers, let body):
                write(fd, status: status, headers: headers, body: body)
            case .delay(let seconds, let then):
                Thread.sleep(forTimeInterval: seconds)
                write(fd, status: then.status, headers: ["Content-Type": "application/json"], body: then.body)
            case .dieMidResponse:
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\": "
                send(fd, Data(head.utf8))
                return
            case .closeWithoutAnswer:
                return
            }
        }
    }

    private func write(_ fd: Int32, status: Int, headers: [String: String], body: Data) {
        var head = "HTTP/1.1 \(status) Status\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        send(fd, Data(head.utf8) + body)
    }

    private func send(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                offset += n
            }
        }
    }

    /// Reads one request (head and `Content-Length` body); nil when the peer closed.
    private func readRequest(_ fd: Int32, _ buffer: inout Data) -> Request? {
        let separator = Data("\r\n\r\n".utf8)
        var headEnd = buffer.range(of: separator)
        while headEnd == nil {
            guard receive(fd, &buffer) else { return nil }
            headEnd = buffer.range(of: separator)
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[buffer.startIndex..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count - (headEnd.upperBound - buffer.startIndex) < length {
            guard receive(fd, &buffer) else { return nil }
        }
        let bodyStart = headEnd.upperBound
        let body = Data(buffer[bodyStart..<bodyStart + length])
        buffer = Data(buffer[(bodyStart + length)...])
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body)
    }

    private func receive(_ fd: Int32, _ buffer: inout Data) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }
}
