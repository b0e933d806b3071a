//! Child processes fabuild starts and waits for under a time limit: the base's
//! interpreter (bytecode), registry credential helpers.

use std::process::{Child, ExitStatus};
use std::time::Duration;

/// Waits for `child` to end, killing it once it has run for `limit`; `None` when it was
/// killed. No polling: the wait blocks in the kernel, and a watchdog thread sleeps until
/// the wait ends or the limit passes. The wait leaves the ended child unreaped until the
/// watchdog has been told, so the process the watchdog may signal is the child (or its
/// zombie), never another process given the same id.
pub fn wait_within(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process, waitid};
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::sync::{Arc, Mutex, PoisonError};

    let pid = Pid::from_child(child);
    let ended = Arc::new(Mutex::new(false));
    let (done, told) = channel::<()>();
    let watchdog = {
        let ended = Arc::clone(&ended);
        std::thread::spawn(move || {
            if told.recv_timeout(limit) != Err(RecvTimeoutError::Timeout) {
                return false;
            }
            let ended = ended.lock().unwrap_or_else(PoisonError::into_inner);
            !*ended && kill_process(pid, Signal::KILL).is_ok()
        })
    };
    let waited = loop {
        match waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Err(rustix::io::Errno::INTR) => {}
            other => break other,
        }
    };
    *ended.lock().unwrap_or_else(PoisonError::into_inner) = true;
    drop(done);
    let killed = watchdog.join().unwrap_or(false);
    if let Err(e) = waited {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e.into());
    }
    let status = child.wait()?;
    Ok((!killed).then_some(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_wait_ends_with_the_child_or_kills_it_at_the_limit() {
        let mut quick = Command::new("true").spawn().unwrap();
        let status = wait_within(&mut quick, Duration::from_secs(60)).unwrap();
        assert!(status.is_some_and(|s| s.success()));
        let started = std::time::Instant::now();
        let mut slow = Command::new("sleep").arg("60").spawn().unwrap();
        assert!(
            wait_within(&mut slow, Duration::from_millis(200))
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(30));
        // Killed and reaped: nothing is left to wait for.
        assert!(slow.try_wait().unwrap().is_some());
    }
}
