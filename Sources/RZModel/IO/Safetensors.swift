import Foundation
import RZTensor

/// A read-only view of one `.safetensors` file (memory-mapped), with every header entry validated
/// against the file size before any tensor is touched. Format: u64-LE header length, JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw data.
public struct SafetensorsFile: Sendable {
    public enum DType: String, Sendable {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        case f64 = "F64"

        var size: Int {
            switch self {
            case .f16, .bf16: return 2
            case .f32: return 4
            case .f64: return 8
            }
        }
    }

    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the file.
        public let range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let data: Data

    /// Largest header accepted; real headers are a few hundred KB even for large models.
    static let maxHeaderBytes = 100 << 20

    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw ModelError.fileNotFound(path) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw ModelError.unreadable(path: path, reason: error.localizedDescription)
        }
        func fail(_ reason: String) -> ModelError { .safetensors(path: path, reason: reason) }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes), Int(headerLength) <= data.count - 8 else {
            throw fail("header length \(headerLength) exceeds the file size \(data.count) (truncated or corrupt)")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let dataBytes = data.count - dataStart
        for (name, value) in header {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { metadata[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            guard let obj = value as? [String: Any] else { throw fail("entry \(name) is not an object") }
            guard let dtypeName = obj["dtype"] as? String else { throw fail("entry \(name) has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("tensor \(name) has unsupported dtype \(dtypeName) (F32, F16, BF16, F64 are supported)")
            }
            guard let shapeAny = obj["shape"] as? [Any], let offsetsAny = obj["data_offsets"] as? [Any], offsetsAny.count == 2
            else { throw fail("entry \(name) lacks shape or data_offsets") }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            let offsets = offsetsAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, offsets.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("entry \(name) has a malformed shape or data_offsets")
            }
            var elements = 1
            for d in shape {
                let (m, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \(name) shape \(shape) overflows") }
                elements = m
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataBytes else {
                throw fail("tensor \(name) data_offsets \(offsets) lie outside the \(dataBytes) data bytes (truncated?)")
            }
            guard offsets[1] - offsets[0] == bytes else {
                throw fail("tensor \(name) has \(offsets[1] - offsets[0]) bytes, its shape \(shape) × \(dtype.rawValue) needs \(bytes)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: (dataStart + offsets[0])..<(dataStart + offsets[1]))
        }
        self.entries = entries
        self.metadata = metadata
        self.data = data
    }

    /// Converts tensor `name` to Float32 into `destination` (which must hold `entry.count` floats).
    public func read(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        guard let e = entries[name] else { throw ModelError.missingTensor(name) }
        let n = e.count
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            let src = base + e.range.lowerBound
            switch e.dtype {
            case .f32:
                memcpy(destination, src, n * 4)
            case .f16:
                for i in 0..<n {
                    destination[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<n {
                    destination[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                }
            case .f64:
                for i in 0..<n { destination[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            }
            Self.pageOut(src, bytes: n * e.dtype.size)
        }
    }

    /// Asks the kernel to reclaim the mapped file pages wholly inside `bytes` at `start`, now that they are read: a
    /// checkpoint read tensor by tensor then never holds the whole file resident beside the weights (at 1.7B a
    /// 3.4 GB BF16 file). MADV_PAGEOUT loses nothing: file pages are read again if touched, and anonymous ones (a
    /// file that was not mapped) can only be swapped out.
    static func pageOut(_ start: UnsafeRawPointer, bytes: Int) {
        guard let (p, length) = wholePages(start, bytes: bytes) else { return }
        _ = madvise(p, length, 21)  // MADV_PAGEOUT (Linux 5.4+; the headers here may not name it)
    }

    /// Checks the file holds exactly `specs` under `prefix` (every name, every shape, nothing else under the
    /// prefix), then, when `base` is given, reads each tensor into `base + offset`.
    public func readTensors(_ specs: [TensorSpec], prefix: String = "", into base: UnsafeMutablePointer<Float>?) throws {
        for spec in specs {
            guard let e = entries[prefix + spec.name] else { throw ModelError.missingTensor(prefix + spec.name) }
            guard e.shape == spec.shape else { throw ModelError.shapeMismatch(name: prefix + spec.name, expected: spec.shape, found: e.shape) }
        }
        let expected = Set(specs.map { prefix + $0.name })
        if let extra = entries.keys.filter({ $0.hasPrefix(prefix) && !expected.contains($0) }).sorted().first {
            throw ModelError.unexpectedTensor(extra)
        }
        guard let base else { return }
        for spec in specs { try read(prefix + spec.name, into: base + spec.offset) }
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw ModelError.missingTensor(name) }
        var out = [Float](repeating: 0, count: e.count)
        try out.withUnsafeMutableBufferPointer { buf in
            if let base = buf.baseAddress { try read(name, into: base) }
        }
        return out
    }

    /// Writes Float32 tensors as a safetensors file, atomically. Names are sorted in the header, as
    /// the Python library does, and the header is space-padded to a multiple of 8 bytes.
    public static func write(
        path: String, tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
        metadata: [String: String] = [:]
    ) throws {
        for t in tensors where t.shape.reduce(1, *) != t.values.count {
            throw ModelError.shapeMismatch(name: t.name, expected: t.shape, found: [t.values.count])
        }
        try write(path: path, tensors: tensors.map { ($0.name, $0.shape) }, dtype: .f32, metadata: metadata) { tensors[$0].values }
    }

    /// Writes tensors in `dtype` (F32, BF16 rounded to nearest even as torch does, or F16), atomically.
    /// `values(i)` gives tensor i's Float32 values when it is written (one tensor at a time, so a caller can
    /// compute each into one scratch buffer).
    public static func write(
        path: String, tensors: [(name: String, shape: [Int])], dtype: DType, metadata: [String: String] = [:],
        values: (Int) throws -> UnsafeBufferPointer<Float>
    ) throws {
        guard dtype != .f64 else { throw ModelError.unsupported("writing F64 safetensors") }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        let order = tensors.indices.sorted { tensors[$0].name < tensors[$1].name }
        var offset = 0
        for i in order {
            let bytes = tensors[i].shape.reduce(1, *) * dtype.size
            header[tensors[i].name] = ["dtype": dtype.rawValue, "shape": tensors[i].shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var length = UInt64(headerData.count).littleEndian
        try AtomicFile.write(to: path) { w in
            try withUnsafeBytes(of: &length) { try w.write($0) }
            try w.write(headerData)
            var half = [UInt16](repeating: 0, count: dtype == .f32 ? 0 : 1 << 20)
            for i in order {
                let v = try values(i)
                guard v.count == tensors[i].shape.reduce(1, *) else {
                    throw ModelError.shapeMismatch(name: tensors[i].name, expected: tensors[i].shape, found: [v.count])
                }
                if dtype == .f32 {
                    try w.write(UnsafeRawBufferPointer(v))
                    continue
                }
                var start = 0
                while start < v.count {
                    let n = min(half.count, v.count - start)
                    if dtype == .bf16 {
                        half.withUnsafeMutableBufferPointer { dst in
                            if let src = v.baseAddress, let out = dst.baseAddress { roundToBFloat16(src + start, out, count: n) }
                        }
                    } else {
                        for j in 0..<n { half[j] = Float16(v[start + j]).bitPattern }
                    }
                    try half.withUnsafeBytes { try w.write(UnsafeRawBufferPointer(rebasing: $0[0..<(2 * n)])) }
                    start += n
                }
            }
        }
    }
}
