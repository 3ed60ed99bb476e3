//! The check every executor's configuration section gets in its unit tests.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `keys` parse to `expected`, the defaults serialise as `defaults` (the documented keys),
/// and each of `unknown` is refused as an unknown field. Returns the parsed `keys`.
#[track_caller]
pub(crate) fn config_keys<C>(keys: Value, expected: &C, defaults: Value, unknown: &[Value]) -> C
where
    C: DeserializeOwned + Serialize + Default + PartialEq + std::fmt::Debug,
{
    let cfg: C = serde_json::from_value(keys).expect("config");
    assert_eq!(&cfg, expected);
    assert_eq!(
        serde_json::to_value(C::default()).expect("serialise"),
        defaults
    );
    for bad in unknown {
        let err = serde_json::from_value::<C>(bad.clone()).expect_err("unknown key");
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
    cfg
}
