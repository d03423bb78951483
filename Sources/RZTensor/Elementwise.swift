/// Embedding lookup: `out[i,:] = table[ids[i], :]` for N ids into a (V, C) table.
public func embeddingForward(
    out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>, N: Int, C: Int
) {
    for i in 0..<N { (out + i * C).update(from: table + Int(ids[i]) * C, count: C) }
}

/// Backward of `embeddingForward`. Accumulates `dOut` rows into `dTable` (repeated ids add up).
public func embeddingBackward(
    dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, N: Int, C: Int
) {
    for i in 0..<N {
        let dst = dTable + Int(ids[i]) * C
        let src = dOut + i * C
        for j in 0..<C { dst[j] += src[j] }
    }
}

/// `y[i] += x[i]` over `count` values.
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    parallelChunks(count, minimumPerChunk: 65_536) { r, _ in
        for i in r { y[i] += x[i] }
    }
}

/// `out[i] = a[i] + b[i]` over `count` values.
public func add(out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    parallelChunks(count, minimumPerChunk: 65_536) { r, _ in
        for i in r { out[i] = a[i] + b[i] }
    }
}

/// `x[i] *= s` over `count` values.
public func scaleInPlace(_ x: UnsafeMutablePointer<Float>, _ s: Float, count: Int) {
    parallelChunks(count, minimumPerChunk: 65_536) { r, _ in
        for i in r { x[i] *= s }
    }
}

/// Σ x[i]², accumulated in Double so that norms of millions of values do not lose digits.
public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    var i = 0
    // Float partial sums over short blocks vectorise; Double across blocks keeps precision.
    while i < count {
        let end = min(count, i + 1024)
        var partial: Float = 0
        for j in i..<end { partial += x[j] * x[j] }
        total += Double(partial)
        i = end
    }
    return total
}

/// True when every value is finite.
public func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    for i in 0..<count where !x[i].isFinite { return false }
    return true
}

/// `m[r, :] += v` for every row of a row-major (rows, cols) matrix (a bias added to each token).
public func addRowVector(_ m: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, rows: Int, cols: Int) {
    parallelChunks(rows, minimumPerChunk: max(1, 65_536 / max(cols, 1))) { r, _ in
        for i in r {
            let row = m + i * cols
            for j in 0..<cols { row[j] += v[j] }
        }
    }
}

/// `s += Σ_r m[r, :]` (a bias's gradient: the sum of its outputs' gradients over tokens). Rows are added in
/// order, one column block per worker, so the result does not depend on the thread count.
public func addColumnSums(_ s: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows: Int, cols: Int) {
    parallelChunks(cols, minimumPerChunk: max(64, 65_536 / max(rows, 1))) { c, _ in
        for i in 0..<rows {
            let row = m + i * cols
            for j in c { s[j] += row[j] }
        }
    }
}

/// `y[i] += s · x[i]` over `count` values.
public func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale s: Float, count: Int) {
    parallelChunks(count, minimumPerChunk: 65_536) { r, _ in
        for i in r { y[i] += s * x[i] }
    }
}

/// `out (width) = Σ_j weights[j] · rows[j·stride ..< j·stride + width]` for j < count: attention's weighted sum of
/// cached values for one query row, j in increasing order.
public func weightedSumOfRows(
    out: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, stride: Int, width: Int
) {
    out.update(repeating: 0, count: width)
    for j in 0..<count {
        let w = weights[j], r = rows + j * stride
        for d in 0..<width { out[d] += w * r[d] }
    }
}

/// `weightedSumOfRows` over rows held as BF16 bits (a BF16 KV cache), widened exactly as they are read.
public func weightedSumOfRows(
    out: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, rows: UnsafePointer<UInt16>, count: Int, stride: Int, width: Int
) {
    out.update(repeating: 0, count: width)
    for j in 0..<count {
        let w = weights[j], r = rows + j * stride
        for d in 0..<width { out[d] += w * Float(bitPattern: UInt32(r[d]) << 16) }
    }
}
