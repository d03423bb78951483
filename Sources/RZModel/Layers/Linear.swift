import RZTensor

// A bias-free linear layer with PyTorch's weight layout: weight (outF, inF), y = x Wᵀ, x (N, inF).

func linearForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    N: Int, inF: Int, outF: Int
) {
    gemm(.none, .transposed, M: N, N: outF, K: inF, A: inp, lda: inF, B: weight, ldb: inF, C: out, ldc: outF)
}

/// Accumulates `dWeight += dOutᵀ inp`; `dInp` gets `dOut W`, added to what it holds when
/// `accumulateInput` is true, else overwriting it.
func linearBackward(
    dInp: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, inF: Int, outF: Int, accumulateInput: Bool
) {
    gemm(.none, .none, M: N, N: inF, K: outF, A: dOut, lda: outF, B: weight, ldb: inF,
         beta: accumulateInput ? 1 : 0, C: dInp, ldc: inF)
    gemm(.transposed, .none, M: outF, N: inF, K: N, A: dOut, lda: outF, B: inp, ldb: inF,
         beta: 1, C: dWeight, ldc: inF)
}
