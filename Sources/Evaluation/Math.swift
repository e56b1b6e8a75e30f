#if canImport(Glibc)
import Glibc
@inline(__always) func _math_log2(_ x: Double) -> Double { Glibc.log2(x) }
#elseif canImport(Musl)
import Musl
@inline(__always) func _math_log2(_ x: Double) -> Double { Musl.log2(x) }
#else
import Darwin
@inline(__always) func _math_log2(_ x: Double) -> Double { Darwin.log2(x) }
#endif
