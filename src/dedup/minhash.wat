;; MinHash kernel for src/dedup/minhash.ts, 4 permutations a SIMD instruction (wasm SIMD: SSE4.1 on x64, NEON on arm64).
;; minhash-wasm.ts holds it compiled: `npx tsx scripts/minhash-wasm.ts` rebuilds that file after an edit here,
;; and test/dedup/minhash.test.ts fails while the two differ.
(module
  (memory (export "memory") 1)
  ;; out[i] = min over j < count of (a[i] * xs[j] + b[i]) mod 2^32, for i < hashes (a multiple of 4).
  ;; a, b, out and xs are byte offsets of uint32 arrays in memory.
  (func (export "minhash") (param $a i32) (param $b i32) (param $out i32) (param $hashes i32) (param $xs i32) (param $count i32)
    (local $i i32) (local $j i32) (local $x v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $end i32) (local $at i32)
    ;; 16 hashes at a time while 16 remain
    (block $done16
      (loop $outer16
        (br_if $done16 (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $hashes)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $a0 (v128.load (i32.add (local.get $a) (local.get $at))))
        (local.set $a1 (v128.load offset=16 (i32.add (local.get $a) (local.get $at))))
        (local.set $a2 (v128.load offset=32 (i32.add (local.get $a) (local.get $at))))
        (local.set $a3 (v128.load offset=48 (i32.add (local.get $a) (local.get $at))))
        (local.set $b0 (v128.load (i32.add (local.get $b) (local.get $at))))
        (local.set $b1 (v128.load offset=16 (i32.add (local.get $b) (local.get $at))))
        (local.set $b2 (v128.load offset=32 (i32.add (local.get $b) (local.get $at))))
        (local.set $b3 (v128.load offset=48 (i32.add (local.get $b) (local.get $at))))
        (local.set $m0 (v128.const i32x4 -1 -1 -1 -1))
        (local.set $m1 (v128.const i32x4 -1 -1 -1 -1))
        (local.set $m2 (v128.const i32x4 -1 -1 -1 -1))
        (local.set $m3 (v128.const i32x4 -1 -1 -1 -1))
        (local.set $j (local.get $xs))
        (local.set $end (i32.add (local.get $xs) (i32.shl (local.get $count) (i32.const 2))))
        (block $inner_done
          (loop $inner
            (br_if $inner_done (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $x (v128.load32_splat (local.get $j)))
            (local.set $m0 (i32x4.min_u (local.get $m0) (i32x4.add (i32x4.mul (local.get $a0) (local.get $x)) (local.get $b0))))
            (local.set $m1 (i32x4.min_u (local.get $m1) (i32x4.add (i32x4.mul (local.get $a1) (local.get $x)) (local.get $b1))))
            (local.set $m2 (i32x4.min_u (local.get $m2) (i32x4.add (i32x4.mul (local.get $a2) (local.get $x)) (local.get $b2))))
            (local.set $m3 (i32x4.min_u (local.get $m3) (i32x4.add (i32x4.mul (local.get $a3) (local.get $x)) (local.get $b3))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $inner)))
        (v128.store (i32.add (local.get $out) (local.get $at)) (local.get $m0))
        (v128.store offset=16 (i32.add (local.get $out) (local.get $at)) (local.get $m1))
        (v128.store offset=32 (i32.add (local.get $out) (local.get $at)) (local.get $m2))
        (v128.store offset=48 (i32.add (local.get $out) (local.get $at)) (local.get $m3))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $outer16)))
    ;; 4 at a time for the rest
    (block $done4
      (loop $outer4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $hashes)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $a0 (v128.load (i32.add (local.get $a) (local.get $at))))
        (local.set $b0 (v128.load (i32.add (local.get $b) (local.get $at))))
        (local.set $m0 (v128.const i32x4 -1 -1 -1 -1))
        (local.set $j (local.get $xs))
        (local.set $end (i32.add (local.get $xs) (i32.shl (local.get $count) (i32.const 2))))
        (block $d
          (loop $l
            (br_if $d (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $m0 (i32x4.min_u (local.get $m0) (i32x4.add (i32x4.mul (local.get $a0) (v128.load32_splat (local.get $j))) (local.get $b0))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $l)))
        (v128.store (i32.add (local.get $out) (local.get $at)) (local.get $m0))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $outer4)))))
