import RZTensor

extension DecoderModel {
    /// Initialises like transformers' `_init_weights`: matrices ~ N(0, std²), norm weights = 1, biases = 0.
    public func initializeRandom(seed: UInt64, std: Double = 0.02) {
        var rng = SeededRandom(seed: seed)
        for t in layout.tensors {
            let p = parameters.base + t.offset
            if t.shape.count == 1 {
                p.update(repeating: t.name.hasSuffix(".bias") ? 0 : 1, count: t.count)
            } else {
                for i in 0..<t.count { p[i] = Float(rng.nextNormal() * std) }
            }
        }
    }
}
