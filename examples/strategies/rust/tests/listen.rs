//! The example binary starts, binds the port it is given (0: any) and says
//! where, as tests and users rely on; building this test also builds the
//! binary the strategy API's end-to-end tests run.

use std::process::Command;

use shadowkpi_testkit::process::ListeningProcess;

#[test]
fn it_listens_where_it_says() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quoting-strategy"));
    cmd.args(["--listen", "127.0.0.1:0"]);
    let p = ListeningProcess::start(cmd);
    assert_ne!(p.addr.port(), 0);
    assert!(
        std::net::TcpStream::connect(p.addr).is_ok(),
        "it accepts on {}",
        p.addr
    );
}
