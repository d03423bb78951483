import Foundation

/// An owned, 64-byte-aligned, contiguous Float32 allocation.
///
/// The model keeps its parameters, gradients, optimizer moments and activations in a few of these
/// and hands raw pointers to the kernels (llm.c style): one allocation, many named views.
/// It is a reference type that is mutated in place, so it is deliberately not `Sendable`:
/// a buffer belongs to one owner (the model, inside one actor) at a time.
public final class FloatBuffer {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>
    /// Bytes of the anonymous mapping when the buffer is one (`init(mappedCount:)`), else nil.
    private let mappedBytes: Int?

    private init(count: Int, base: UnsafeMutablePointer<Float>, mappedBytes: Int?) {
        self.count = count
        self.base = base
        self.mappedBytes = mappedBytes
    }

    /// Allocates `count` floats, zero-filled.
    public convenience init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        let base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        self.init(count: count, base: base, mappedBytes: nil)
    }

    /// `count` zero floats in an anonymous mapping of their own, resident only where written: for a buffer
    /// that is filled and emptied piece by piece (`releasePages`). Falls back to an ordinary (resident)
    /// allocation when the mapping cannot be made.
    public convenience init(mappedCount count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            self.init(count: count, base: p.bindMemory(to: Float.self, capacity: max(count, 1)), mappedBytes: bytes)
        } else {
            self.init(count: count)
        }
    }

    /// Returns the pages wholly inside `range` (in floats) to the kernel; they read as zero afterwards. A no-op
    /// for an ordinary allocation.
    public func releasePages(_ range: Range<Int>) {
        guard mappedBytes != nil, let (p, length) = wholePages(base + range.lowerBound, bytes: range.count * MemoryLayout<Float>.stride)
        else { return }
        _ = madvise(p, length, MADV_DONTNEED)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.update(from: s, count: values.count) }
        }
    }

    deinit {
        if let mappedBytes { munmap(base, mappedBytes) } else { base.deallocate() }
    }

    public subscript(index: Int) -> Float {
        get { base[index] }
        set { base[index] = newValue }
    }

    public func zero() { base.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer.copy: size mismatch")
        base.update(from: other.base, count: count)
    }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }
}

/// The pages lying wholly inside `bytes` bytes at `start` (start and length page-aligned), or nil when there are none:
/// what may be handed to madvise without touching memory outside the range.
public func wholePages(_ start: UnsafeRawPointer, bytes: Int) -> (UnsafeMutableRawPointer, Int)? {
    let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
    let lo = (UInt(bitPattern: start) + page - 1) / page * page, hi = (UInt(bitPattern: start) + UInt(max(bytes, 0))) / page * page
    guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return nil }
    return (p, Int(hi - lo))
}
