//! Number words: the words a number phrase is built from.

/// "zero".."nineteen"; the index is the value.
pub(crate) const UNITS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
];

/// "twenty".."ninety"; the value is (index + 2) × 10.
pub(crate) const TENS: &[&str] = &[
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Multipliers.
pub(crate) const SCALES: &[(&str, u64)] = &[
    ("hundred", 100), ("thousand", 1_000), ("million", 1_000_000), ("billion", 1_000_000_000),
];

/// Words that belong to an amount but never make an exact one: a phrase containing
/// one is refused ("hundreds of replicas", "a dozen", "minus 5").
pub(crate) const VAGUE_NUMBERS: &[&str] = &[
    "hundreds", "thousands", "millions", "billions", "dozen", "dozens", "minus", "negative",
    "zillion", "gazillion", "bazillion", "umpteen",
];
