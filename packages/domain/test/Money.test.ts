import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import fc from "fast-check"
import * as Money from "../src/Money.ts"

const parsed = (input: string, options?: Money.ParseOptions): number | string =>
  Result.match(Money.fromDecimalString(input, options), { onSuccess: (m) => m, onFailure: (e) => e.reason })

describe("fromDecimalString", () => {
  it("reads whole units, one and two decimals", () => {
    assert.strictEqual(parsed("100.50"), 10050)
    assert.strictEqual(parsed("100.5"), 10050)
    assert.strictEqual(parsed("100"), 10000)
    assert.strictEqual(parsed("0.01"), 1)
    assert.strictEqual(parsed("0"), 0)
    assert.strictEqual(parsed("1000000.00"), 100_000_000)
  })

  it("rejects more than two decimals", () => {
    assert.strictEqual(parsed("1.005"), "more than 2 decimal places")
    assert.strictEqual(parsed("0.300"), "more than 2 decimal places")
  })

  it("rejects what is not plain decimal notation", () => {
    for (const input of ["", "NaN", "Infinity", "1e3", "1E-2", "+5", " 5", "5 ", "5.", ".5", "1,50", "0x10", "--1"]) {
      assert.strictEqual(parsed(input), "not a decimal number", input)
    }
  })

  it("rejects negatives unless the caller allows them", () => {
    assert.strictEqual(parsed("-1.50"), "negative")
    assert.strictEqual(parsed("-1.50", { allowNegative: true }), -150)
  })

  it("reads negative zero as zero", () => {
    assert.isTrue(Object.is(parsed("-0.00"), 0))
  })

  it("rejects amounts beyond 2^53 minor units", () => {
    assert.strictEqual(parsed("90071992547409.91"), 9007199254740991)
    assert.strictEqual(parsed("90071992547409.92"), "too large")
    assert.strictEqual(parsed("1".repeat(30)), "too large")
  })

  it("names the input in its error", () => {
    const result = Money.fromDecimalString("abc")
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result))
      assert.strictEqual(result.failure.message, 'invalid amount "abc": not a decimal number')
  })
})

describe("fromDecimal", () => {
  it("accepts numbers whose shortest form is an amount", () => {
    assert.deepStrictEqual(Money.fromDecimal(100.5), Result.succeed(Money.make(10050)))
    assert.isTrue(Result.isFailure(Money.fromDecimal(0.1 + 0.2)))
    assert.isTrue(Result.isFailure(Money.fromDecimal(1e21)))
    assert.isTrue(Result.isFailure(Money.fromDecimal(Number.NaN)))
  })
})

describe("toDecimalString", () => {
  it("writes two decimals", () => {
    assert.strictEqual(Money.toDecimalString(Money.make(10050)), "100.50")
    assert.strictEqual(Money.toDecimalString(Money.make(7)), "0.07")
    assert.strictEqual(Money.toDecimalString(Money.make(0)), "0.00")
    assert.strictEqual(Money.toDecimalString(Money.make(-5)), "-0.05")
    assert.strictEqual(Money.toDecimalString(Money.make(Number.MAX_SAFE_INTEGER)), "90071992547409.91")
  })

  it("is the inverse of fromDecimalString for every amount", () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        const amount = Money.make(n)
        assert.deepStrictEqual(
          Money.fromDecimalString(Money.toDecimalString(amount), { allowNegative: true }),
          Result.succeed(amount)
        )
      }),
      { numRuns: 1000 }
    )
  })
})

describe("MoneyFromDecimal", () => {
  it("decodes strings and numbers, encodes two-decimal strings", () => {
    assert.strictEqual(Schema.decodeUnknownSync(Money.MoneyFromDecimal)("12.30"), 1230)
    assert.strictEqual(Schema.decodeUnknownSync(Money.MoneyFromDecimal)(12.3), 1230)
    assert.strictEqual(Schema.encodeSync(Money.MoneyFromDecimal)(Money.make(1230)), "12.30")
  })

  it("rejects negatives, extra decimals and non-numbers", () => {
    for (const input of ["-1", "1.001", 1.001, "abc", null, true]) {
      assert.throws(() => Schema.decodeUnknownSync(Money.MoneyFromDecimal)(input))
    }
  })
})
