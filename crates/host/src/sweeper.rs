//! The local stand-in for the cron that production runs (see `infra/`):
//! every interval, `POST /api/admin/jobs/sweep` with the bootstrap admin key,
//! so queued jobs whose Redis wake-up was lost (Redis restarted, no worker
//! listening) and jobs whose worker died are published again. It goes through
//! the app's own HTTP route, exactly as the cron does.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The route the jobs component serves the sweep on.
pub const ROUTE: &str = "/api/admin/jobs/sweep";

/// Sweep `addr` every `every` with `admin_key`, forever; failures are logged.
pub async fn run(addr: SocketAddr, admin_key: String, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // the first tick is immediate; start one interval in
    loop {
        tick.tick().await;
        if let Err(e) = sweep_once(addr, &admin_key).await {
            eprintln!("job sweep failed: {e}");
        }
    }
}

async fn sweep_once(addr: SocketAddr, admin_key: &str) -> std::io::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "POST {ROUTE} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin_key}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let head = String::from_utf8_lossy(&response);
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or("no response");
        return Err(std::io::Error::other(format!("{ROUTE} answered {status}")));
    }
    Ok(())
}
