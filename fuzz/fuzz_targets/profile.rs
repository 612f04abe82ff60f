//! A profile file (`--profile-file`): parsed, written back and parsed again,
//! it must be the same profile; resolving any of its presets must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowkpi_domain::params::ParamOverrides;
use shadowkpi_domain::profile::Profile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = Profile::from_json_str(text) else {
        return;
    };
    let written = profile.to_json_string();
    let again = Profile::from_json_str(&written)
        .unwrap_or_else(|e| panic!("our own profile is refused: {e}\n{written}"));
    assert_eq!(
        again.to_json_string(),
        written,
        "write → parse → write is not stable"
    );
    for name in profile.preset_names() {
        let _ = profile.resolve("BTCUSDT", Some(&name), &ParamOverrides::default());
    }
    let _ = profile.resolve("BTCUSDT", None, &ParamOverrides::default());
    for name in profile.model_set_names() {
        let _ = profile.model_set(&name);
    }
});
