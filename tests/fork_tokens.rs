//! Lease tokens in a forked child: a child starts with a copy of its
//! parent's memory, so any token state kept in the process would make it
//! repeat its parent's tokens, and both would hold one key at once.
//!
//! Alone in its test binary: after `fork` in a process with other threads
//! busy, the child could find the allocator's lock held.
#![cfg(unix)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::Duration;

use utility_webhooks::idempotency::Lease;

const TOKENS: usize = 1000;

fn tokens() -> Vec<String> {
    (0..TOKENS)
        .map(|_| {
            Lease::new("smarterwx:fork", Duration::from_secs(5))
                .token()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_forked_child_never_repeats_its_parents_tokens() {
    // Whatever state tokens keep is set up before the fork.
    let before = tokens();
    let (mut reader, mut writer) = std::io::pipe().unwrap();
    // SAFETY: the child only makes tokens, writes them to the pipe and
    // leaves with `_exit`, running no destructor and no other thread's
    // code; this test binary runs no other test at the same time.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = writer.write_all(tokens().join("\n").as_bytes()).is_ok();
        // SAFETY: ends the child at once, as a forked child must.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    drop(writer);
    let parent = tokens();
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    let mut status = 0;
    // SAFETY: waits for the child made above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0, "the child failed");

    let child: Vec<&str> = text.lines().collect();
    assert_eq!(child.len(), TOKENS);
    let mut all: HashSet<&str> = HashSet::new();
    for token in before
        .iter()
        .chain(&parent)
        .map(String::as_str)
        .chain(child)
    {
        assert_eq!(token.len(), 32);
        assert!(all.insert(token), "token {token} made twice");
    }
    assert_eq!(all.len(), 3 * TOKENS);
}
