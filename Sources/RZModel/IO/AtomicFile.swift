import Foundation

/// Writes a file so that readers see either the old content or the complete new content, never a
/// half-written file: the bytes go to a temporary file in the same directory, are flushed to disk,
/// and the temporary file is renamed over the destination.
public enum AtomicFile {
    public static func write(to path: String, _ body: (borrowing Writer) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw ModelError.unreadable(path: path, reason: "cannot create temporary file: \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok {
                close(fd)
                unlink(tmp)
            }
        }
        try body(Writer(fd: fd, path: path))
        guard fsync(fd) == 0 else { throw ModelError.unreadable(path: path, reason: "fsync failed") }
        close(fd)
        ok = true
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw ModelError.unreadable(path: path, reason: "rename failed: \(reason)")
        }
    }

    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { w in try w.write(data) }
    }

    public struct Writer: ~Copyable {
        let fd: Int32
        let path: String

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                guard let base = bytes.baseAddress else { return }
                let n = Foundation.write(fd, base + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ModelError.unreadable(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }

        public func write(_ data: Data) throws {
            try data.withUnsafeBytes { try write($0) }
        }
    }
}
