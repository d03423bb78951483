/// An owned, 64-byte-aligned, contiguous Float32 allocation.
///
/// The model keeps its parameters, gradients, optimizer moments and activations in a few of these
/// and hands raw pointers to the kernels (llm.c style): one allocation, many named views.
/// It is a reference type that is mutated in place, so it is deliberately not `Sendable`:
/// a buffer belongs to one owner (the model, inside one actor) at a time.
public final class FloatBuffer {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.update(from: s, count: values.count) }
        }
    }

    deinit { base.deallocate() }

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
