//! The example binary starts, binds the port it is given (0: any) and says
//! where, as tests and users rely on; building this test also builds the
//! binary the strategy API's end-to-end tests run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn it_listens_where_it_says() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quoting-strategy"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let addr = line.trim().strip_prefix("listening on ").expect(&line);
    let addr: std::net::SocketAddr = addr.parse().expect(addr);
    assert_ne!(addr.port(), 0);
    assert!(
        std::net::TcpStream::connect(addr).is_ok(),
        "it accepts on {addr}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
