import Foundation
import RZTensor

/// A parameter buffer's values rounded to BF16 (torch's round to nearest even): half the memory of float32,
/// widened back exactly, range by range. What a frozen KL reference is held in when
/// `TrainerSettings.referenceInBFloat16` is set (see `DecoderModel.frozenBFloat16(copying:)`).
public final class BF16Weights {
    public let count: Int
    let bits: UnsafeMutablePointer<UInt16>

    /// Zero weights, to be filled (`store`).
    public init(count: Int) {
        self.count = count
        bits = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        bits.initialize(repeating: 0, count: max(count, 1))
    }

    /// `source` rounded to BF16.
    public convenience init(_ source: FloatBuffer) {
        self.init(count: source.count)
        store(source.base, at: 0..<source.count)
    }

    deinit { bits.deallocate() }

    public var byteCount: Int { count * MemoryLayout<UInt16>.stride }

    /// Rounds `values` (range.count floats) into `range`.
    public func store(_ values: UnsafePointer<Float>, at range: Range<Int>) {
        roundToBFloat16(values, bits + range.lowerBound, count: range.count)
    }

    /// Writes rows `ids` of the (rows, width) table at offset `table` as float32 into `destination` (count × width):
    /// an embedding lookup in a BF16-held table.
    func widenRows(ids: UnsafePointer<Int32>, count: Int, table: Int, width: Int, into destination: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let src = bits + table + Int(ids[i]) * width, dst = destination + i * width
            for j in 0..<width { dst[j] = Float(bitPattern: UInt32(src[j]) << 16) }
        }
    }

    /// Writes `range` as float32 at `destination + range.lowerBound` (a buffer in the same layout).
    public func widen(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        let b = bits
        parallelChunks(range.count, minimumPerChunk: 1 << 18) { r, _ in
            for i in r {
                let j = range.lowerBound + i
                destination[j] = Float(bitPattern: UInt32(b[j]) << 16)
            }
        }
    }
}
