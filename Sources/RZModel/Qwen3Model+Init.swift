import RZTensor

extension Qwen3Model {
    /// Initialises like transformers' `_init_weights` for Qwen3: matrices ~ N(0, std²), norms = 1.
    public func initializeRandom(seed: UInt64, std: Double = 0.02) {
        var rng = SeededRandom(seed: seed)
        for t in layout.tensors {
            let p = parameters.base + t.offset
            if t.shape.count == 1 {
                p.update(repeating: 1, count: t.count)
            } else {
                for i in 0..<t.count { p[i] = Float(rng.nextNormal() * std) }
            }
        }
    }
}
