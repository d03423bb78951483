import RZTensor

// A linear layer with PyTorch's weight layout: weight (outF, inF), y = x Wᵀ (+ b), x (N, inF).

func linearForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>? = nil, N: Int, inF: Int, outF: Int
) {
    gemm(.none, .transposed, M: N, N: outF, K: inF, A: inp, lda: inF, B: weight, ldb: inF, C: out, ldc: outF)
    // Added after the product (not as GEMM's C input), so a bias-free layer is bit-identical to one without the option.
    if let bias { addRowVector(out, bias, rows: N, cols: outF) }
}

/// Accumulates `dWeight += dOutᵀ inp` (and `dBias += Σ_rows dOut`) unless they are nil (a frozen layer);
/// `dInp` gets `dOut W`, added to what it holds when `accumulateInput` is true, else overwriting it.
func linearBackward(
    dInp: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>? = nil,
    dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, inF: Int, outF: Int,
    accumulateInput: Bool
) {
    gemm(.none, .none, M: N, N: inF, K: outF, A: dOut, lda: outF, B: weight, ldb: inF,
         beta: accumulateInput ? 1 : 0, C: dInp, ldc: inF)
    if let dWeight {
        gemm(.transposed, .none, M: outF, N: inF, K: N, A: dOut, lda: outF, B: inp, ldb: inF,
             beta: 1, C: dWeight, ldc: inF)
    }
    if let dBias { addColumnSums(dBias, dOut, rows: N, cols: outF) }
}
