//! End-to-end tests of shadowkpi live in `tests/tests/*.rs`: real
//! `redis-server` processes started by `shadowkpi-testkit`, real services on
//! `127.0.0.1:0`, real binaries where a test needs a process. This library is
//! intentionally empty.
