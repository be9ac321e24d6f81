//! Which URLs a webhook may point at: http(s) only, and never back at this server (a loop that
//! would POST deliveries to our own API, or let an administrator make the server call itself).
//!
//! "Itself" is what can be told without asking DNS at creation time: the listen address, any
//! loopback or unspecified address, `localhost` (and `*.localhost`) or this machine's host name
//! on the server's port, an address of this machine when the server listens on all of them, and
//! any URL under `/api/v1/` (firegrid's own API, on whatever name a proxy gives it).

use std::net::{IpAddr, SocketAddr, UdpSocket};

use ureq::http::Uri;

pub const MAX_URL_LEN: usize = 2000;

/// Why a URL is refused (the field message of the 422).
pub fn check(url: &str, bind: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    let uri: Uri = url.parse().map_err(|_| "is not a valid URL".to_string())?;
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err("must be an http:// or https:// URL".into()),
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Err("must name a host".into());
    };
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("must not carry a user name or password".into());
    }
    if uri.path().starts_with("/api/v1/") || uri.path() == "/api/v1" {
        return Err("points at a firegrid API (this server or another)".into());
    }
    let port = uri.port_u16().unwrap_or(default_port);
    if points_at(host, port, bind) {
        return Err("points at this server itself".into());
    }
    Ok(())
}

/// Whether `host:port` reaches the server listening on `bind`.
fn points_at(host: &str, port: u16, bind: &str) -> bool {
    let Ok(listen) = bind.parse::<SocketAddr>() else {
        // A bind given as a name ("localhost:8080"): compare by port on local names only.
        let bind_port = bind.rsplit(':').next().and_then(|p| p.parse().ok());
        return bind_port == Some(port) && is_local_name(host);
    };
    if port != listen.port() {
        return false;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            ip == listen.ip()
                || ip.is_loopback()
                || ip.is_unspecified()
                || (listen.ip().is_unspecified() && is_this_machine(ip))
        }
        Err(_) => is_local_name(host),
    }
}

/// `localhost`, a `.localhost` name (RFC 6761: always loopback) or this machine's host name.
fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || hostname().is_some_and(|n| n == h)
}

/// An address of one of this machine's interfaces: only those can be bound.
fn is_this_machine(ip: IpAddr) -> bool {
    UdpSocket::bind((ip, 0)).is_ok()
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on
    // success (and we stop at the first NUL or the end regardless).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND: &str = "127.0.0.1:8080";

    #[test]
    fn http_and_https_elsewhere_are_accepted() {
        for ok in [
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "http://10.1.2.3:9000/hooks/firegrid",
            // Loopback on another port: a receiver on the same machine.
            "http://127.0.0.1:9090/hook",
            "http://localhost:9090/hook",
        ] {
            assert_eq!(check(ok, BIND), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_schemes_and_broken_urls_are_refused() {
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "example.com/hook",
            "http://",
            "https://user:pw@example.com/hook",
            "http://exa mple.com/",
            "",
        ] {
            assert!(check(bad, BIND).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_server_itself_is_refused() {
        for own in [
            "http://127.0.0.1:8080/hook",
            "http://localhost:8080/",
            "http://LOCALHOST.:8080/",
            "http://firegrid.localhost:8080/",
            "http://[::1]:8080/",
            "http://0.0.0.0:8080/",
            "http://127.0.0.2:8080/",
            "https://grid.example.gov.cn/api/v1/hazards",
        ] {
            assert!(check(own, BIND).is_err(), "{own}");
        }
        // Listening on every address: this machine's own addresses on that port too.
        assert!(check("http://127.0.0.1/", "0.0.0.0:80").is_err());
        assert!(check("http://127.0.0.1:81/", "0.0.0.0:80").is_ok());
        if let Some(name) = hostname() {
            assert!(check(&format!("http://{name}:8080/x"), BIND).is_err());
        }
    }
}
