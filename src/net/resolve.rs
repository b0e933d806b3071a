//! Each host looked up once per agent, not once per connection.
//!
//! glibc's resolver sends a host's A and AAAA queries together from one socket. Where the
//! network drops one of the two answers (the conntrack race known from Kubernetes nodes,
//! and seen on the machines fabuild is tested on), that lookup waits out the resolver's
//! 5 s timeout. fabuild fetches wheels four at a time and uploads blobs on new
//! connections, so an uncached resolver looks the same two or three hosts up dozens of
//! times in one build, and a cold build of examples/fastapi-tls with locked requirements
//! lost 5 s to it in every run measured. Here the first connection to a host looks it up
//! and the others wait for that answer; a failed lookup is not kept (the next connection
//! tries again), and an answer is kept for `KEEP_FOR`, far longer than a build's requests
//! and far shorter than a long push, so a host that moves is followed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long an answer is used.
pub const KEEP_FOR: Duration = Duration::from_secs(60);

/// One host's slot: its answer and when it was got.
type Slot = Arc<Mutex<Option<(Instant, ResolvedSocketAddrs)>>>;

/// A resolver that asks `inner` once per host and port (see the module's text).
pub struct Caching<R = DefaultResolver> {
    inner: R,
    hosts: Mutex<HashMap<String, Slot>>,
}

impl<R: Default> Default for Caching<R> {
    fn default() -> Self {
        Self::new(R::default())
    }
}

impl<R> Caching<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hosts: Mutex::new(HashMap::new()),
        }
    }
}

impl<R> fmt::Debug for Caching<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caching").finish_non_exhaustive()
    }
}

impl<R: Resolver> Resolver for Caching<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // What the default resolver would look up; a URI it refuses goes to it as it is.
        let key = uri
            .scheme()
            .zip(uri.authority())
            .and_then(|(scheme, authority)| DefaultResolver::host_and_port(scheme, authority));
        let Some(key) = key else {
            return self.inner.resolve(uri, config, timeout);
        };
        let slot = Arc::clone(
            self.hosts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_default(),
        );
        // Held while looking up: the other connections to this host wait for the answer
        // instead of asking too. Other hosts have slots of their own.
        let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((got, addrs)) = held.as_ref()
            && got.elapsed() < KEEP_FOR
        {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        *held = Some((Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers 127.0.0.1 for every host but `missing.test`, counting the questions.
    #[derive(Debug, Default)]
    struct Counting {
        asked: AtomicUsize,
    }

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            _config: &Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            // As slow as a lookup, so the threads below really overlap.
            std::thread::sleep(Duration::from_millis(50));
            if uri.host() == Some("missing.test") {
                return Err(ureq::Error::HostNotFound);
            }
            let mut addrs = self.empty();
            addrs.push(SocketAddr::from(([127, 0, 0, 1], 443)));
            Ok(addrs)
        }
    }

    fn ask(resolver: &Caching<Counting>, url: &str) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        resolver.resolve(&uri, &Config::default(), NextTimeout::default())
    }

    #[test]
    fn connections_at_once_to_one_host_look_it_up_once() {
        let resolver = Caching::new(Counting::default());
        std::thread::scope(|scope| {
            for i in 0..8 {
                let resolver = &resolver;
                scope.spawn(move || {
                    let host = if i % 2 == 0 {
                        "pypi.org"
                    } else {
                        "files.pythonhosted.org"
                    };
                    let got = ask(resolver, &format!("https://{host}/simple/p{i}/")).unwrap();
                    assert_eq!(got.len(), 1);
                });
            }
        });
        assert_eq!(resolver.inner.asked.load(Ordering::SeqCst), 2);
        // Another port is another question.
        ask(&resolver, "https://pypi.org:8443/simple/").unwrap();
        assert_eq!(resolver.inner.asked.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failed_lookup_is_asked_again() {
        let resolver = Caching::new(Counting::default());
        assert!(ask(&resolver, "https://missing.test/").is_err());
        assert!(ask(&resolver, "https://missing.test/").is_err());
        assert_eq!(resolver.inner.asked.load(Ordering::SeqCst), 2);
    }
}
