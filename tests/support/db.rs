//! A database some process may still hold: waiting for it, killing its processes, and what its
//! stored turns were asked with.

use std::path::Path;
use std::time::{Duration, Instant};

use critloop::protocol::{Next, next_step};
use critloop::store::Store;

/// The (role, content) messages of one request.
pub type Conversation = Vec<(String, String)>;

/// Opens the database once whoever held it has let go (30 s at most).
pub fn wait_free(db: &Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Store::open(db) {
            Ok(s) => return s,
            Err(e) => assert!(Instant::now() < deadline, "the database does not open: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the process runs (a zombie holds no files: it counts as gone).
pub fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// SIGKILLs a process and waits until it is dead.
pub fn sigkill(pid: u32) {
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "pid {pid} did not die");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The request messages that produced each stored turn of run `name`.
pub fn stored_requests(store: &Store, name: &str) -> Vec<Conversation> {
    let run = store.require_run(name).unwrap();
    let items = store.items(run.id).unwrap();
    let mut out = Vec::new();
    for (id, turns) in store.turns_of_run(run.id).unwrap() {
        let item = &items[id.item as usize];
        for i in 0..turns.len() {
            let Next::Request(step) = next_step(&run.protocol, item, &turns[..i]).unwrap() else {
                panic!("stored turn {i} of {id} was never requested")
            };
            out.push(
                step.messages
                    .iter()
                    .map(|m| {
                        let role = serde_json::to_value(m.role).unwrap();
                        (role.as_str().unwrap().to_string(), m.content.clone())
                    })
                    .collect(),
            );
        }
    }
    out
}
