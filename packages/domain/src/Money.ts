/**
 * Money as an integer number of minor units (kopecks, cents), branded so a
 * quantity or a raw number cannot pass for an amount. Arithmetic stays exact;
 * decimal strings ("100.50") exist only at the edge, and `fromDecimalString`
 * is the one way in from text: plain digits with at most two decimals.
 */
import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"

/** An amount in minor units: any safe integer (the deciders decide which signs they accept). */
export const Money = Schema.Int.pipe(Schema.brand("Money"))
export type Money = typeof Money.Type

/** An ISO 4217 currency code, e.g. "RUB". */
export const Currency = Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Z]{3}$/)))
export type Currency = typeof Currency.Type

/** Builds an amount from minor units; throws on a non-integer (for constants and tests). */
export const make = (minorUnits: number): Money => Money.make(minorUnits)

export const zero: Money = make(0)

/** The sum; callers that can overflow check `isSafe` (amounts here are far below 2^53). */
export const add = (a: Money, b: Money): Money => (a + b) as Money
export const subtract = (a: Money, b: Money): Money => (a - b) as Money
export const multiply = (a: Money, quantity: number): Money => (a * quantity) as Money

/** True when the number is a valid amount (a safe integer). */
export const isSafe = (n: number): n is Money => Number.isSafeInteger(n)

/** The text was not an amount. `reason` is meant for a 422 message. */
export class InvalidMoneyString extends Schema.TaggedError<InvalidMoneyString>()("InvalidMoneyString", {
  input: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid amount ${JSON.stringify(this.input)}: ${this.reason}`
  }
}

export interface ParseOptions {
  /** Accept a leading "-" (default false: amounts at the edge are never negative). */
  readonly allowNegative?: boolean
}

const decimal = /^(-?)(\d+)(?:\.(\d{1,2}))?$/
const tooManyDecimals = /^-?\d+\.\d{3,}$/

/**
 * "100.50" → 10050, "7" → 700, "0.5" → 50. Rejects more than two decimals,
 * exponents, "NaN"/"Infinity", signs other than a leading "-", whitespace,
 * values beyond 2^53 minor units, and negatives unless `allowNegative`.
 */
export const fromDecimalString = (input: string, options?: ParseOptions): Result.Result<Money, InvalidMoneyString> => {
  const fail = (reason: string) => Result.fail(new InvalidMoneyString({ input, reason }))
  const match = decimal.exec(input)
  if (match === null) {
    return fail(tooManyDecimals.test(input) ? "more than 2 decimal places" : "not a decimal number")
  }
  const [, sign = "", whole = "", fraction = ""] = match
  const units = Number(whole) * 100 + Number(fraction.padEnd(2, "0"))
  if (!Number.isSafeInteger(units)) return fail("too large")
  if (units === 0) return Result.succeed(zero)
  if (sign === "-" && options?.allowNegative !== true) return fail("negative")
  return Result.succeed((sign === "-" ? -units : units) as Money)
}

/**
 * The same from a JSON number (the API accepts both): the number's shortest
 * decimal form must itself be a valid amount, so 100.5 passes and
 * 0.1 + 0.2 (0.30000000000000004) or 1e21 do not.
 */
export const fromDecimal = (input: string | number, options?: ParseOptions): Result.Result<Money, InvalidMoneyString> =>
  fromDecimalString(typeof input === "number" ? String(input) : input, options)

/** 10050 → "100.50", -5 → "-0.05". */
export const toDecimalString = (amount: Money): string => {
  const abs = Math.abs(amount)
  const cents = abs % 100
  return `${amount < 0 ? "-" : ""}${(abs - cents) / 100}.${cents < 10 ? "0" : ""}${cents}`
}

/**
 * The edge codec: a non-negative decimal string or number in, `Money` out;
 * encodes as a two-decimal string.
 */
export const MoneyFromDecimal = Schema.Union([Schema.String, Schema.Number]).pipe(
  Schema.decodeTo(
    Money,
    SchemaTransformation.transformEffect({
      decode: (input: string | number, options) =>
        Result.match(fromDecimal(input), {
          onFailure: (error) => Effect.fail(new SchemaIssue.InvalidValue({ message: error.message }, input, options)),
          onSuccess: (amount): Effect.Effect<number> => Effect.succeed(amount)
        }),
      encode: (amount: number) => Effect.succeed(toDecimalString(amount as Money))
    })
  )
)
