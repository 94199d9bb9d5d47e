//! The environment a command sees. A command run by the database's server for a client reads
//! the client's environment (its API keys, its `CRITLOOP_*`), not the server's; the overlay is
//! per thread, set for the duration of that command.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;

thread_local! {
    static OVERLAY: RefCell<Option<Arc<BTreeMap<String, String>>>> = const { RefCell::new(None) };
}

/// `name` from the client's environment when serving one, else from the process's.
pub fn var(name: &str) -> Option<String> {
    match OVERLAY.with(|o| o.borrow().clone()) {
        Some(env) => env.get(name).cloned(),
        None => std::env::var(name).ok(),
    }
}

/// As `var`, for paths (a non-UTF-8 value of the process's own environment stays usable).
pub fn var_os(name: &str) -> Option<OsString> {
    match OVERLAY.with(|o| o.borrow().clone()) {
        Some(env) => env.get(name).map(OsString::from),
        None => std::env::var_os(name),
    }
}

/// Runs `f` with `env` as this thread's environment.
pub fn with<R>(env: Arc<BTreeMap<String, String>>, f: impl FnOnce() -> R) -> R {
    let previous = OVERLAY.with(|o| o.borrow_mut().replace(env));
    let out = f();
    OVERLAY.with(|o| *o.borrow_mut() = previous);
    out
}

/// This process's environment as a client sends it (values that are not UTF-8 are left out).
pub fn snapshot() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_replaces_the_process_environment_on_its_thread_only() {
        let env = Arc::new(BTreeMap::from([("CRITLOOP_TEST_KEY".to_string(), "k".to_string())]));
        assert_eq!(var("CRITLOOP_TEST_KEY"), None);
        let inside = with(env, || (var("CRITLOOP_TEST_KEY"), var("PATH")));
        assert_eq!(inside, (Some("k".to_string()), None));
        assert_eq!(var("CRITLOOP_TEST_KEY"), None);
    }
}
