import Foundation

/// Causal softmax, in place, over a (rows, cols) score matrix with row stride `ld`.
///
/// Query row i sits at absolute position `cols - rows + i` and may attend keys `0...that`;
/// so rows == cols is training-time causal attention and rows == 1 is one decode step.
/// Scores are multiplied by `scale` first. Masked entries are set to exactly 0.
public func causalSoftmaxForward(
    scores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float
) {
    let shift = cols - rows
    for i in 0..<rows {
        let row = scores + i * ld
        let valid = min(cols, shift + i + 1)
        let maxv = maximum(row, count: valid) * scale  // scale > 0: the largest scaled score, to the bit
        let inv = 1 / expShiftedInPlace(row, count: valid, scale: scale, shift: maxv)
        for j in 0..<valid { row[j] *= inv }
        if valid < cols { (row + valid).update(repeating: 0, count: cols - valid) }
    }
}

/// Backward of `causalSoftmaxForward` with respect to the *unscaled* scores, in place:
/// `dScores` enters holding dL/dP and leaves holding dL/dS_raw = scale * P ∘ (dP − Σ_k P_k dP_k).
public func causalSoftmaxBackward(
    dScores: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int,
    ldProbs: Int, scale: Float
) {
    let shift = cols - rows
    for i in 0..<rows {
        let d = dScores + i * ld
        let p = probs + i * ldProbs
        let valid = min(cols, shift + i + 1)
        let dot = RZTensor.dot(p, d, count: valid)
        for j in 0..<valid { d[j] = scale * p[j] * (d[j] - dot) }
        if valid < cols { (d + valid).update(repeating: 0, count: cols - valid) }
    }
}
