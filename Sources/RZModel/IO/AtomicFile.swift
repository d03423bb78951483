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

/// Writes a folder so that readers see the old folder or the complete new one: `body` fills a temporary
/// folder next to `dir`, which is then swapped into place (the old one renamed aside, the new one renamed in,
/// the old one deleted). A failure leaves `dir` as it was and removes the temporary folder.
public enum AtomicFolder {
    public static func write(to dir: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: dir)
        let parent = url.deletingLastPathComponent().path
        let fm = FileManager.default
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let suffix = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tmp = parent + "/." + url.lastPathComponent + ".tmp-" + suffix
        defer { try? fm.removeItem(atPath: tmp) }
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try body(tmp)
        var old: String? = nil
        if fm.fileExists(atPath: dir) {
            let aside = parent + "/." + url.lastPathComponent + ".old-" + suffix
            guard rename(dir, aside) == 0 else { throw ModelError.unreadable(path: dir, reason: "cannot move the old folder aside") }
            old = aside
        }
        guard rename(tmp, dir) == 0 else {
            if let old { _ = rename(old, dir) }
            throw ModelError.unreadable(path: dir, reason: "cannot rename the new folder into place")
        }
        if let old { try? fm.removeItem(atPath: old) }
    }

    /// Bytes of the regular files under `dir` (0 when it does not exist).
    public static func size(_ dir: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return 0 }
        var total = 0
        while let name = walker.nextObject() as? String {
            if let attrs = try? FileManager.default.attributesOfItem(atPath: dir + "/" + name), attrs[.type] as? FileAttributeType == .typeRegular {
                total += (attrs[.size] as? NSNumber)?.intValue ?? 0
            }
        }
        return total
    }
}
