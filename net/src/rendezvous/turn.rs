//! The rendezvous's STUN and TURN servers (webrtc-rs's `turn` crate) and their credentials.
//!
//! Owns the TURN REST credential scheme — username `"<expiry>:<room>"`, password
//! `base64(HMAC-SHA1(secret, username))` — the secret's file in the data dir, and the servers'
//! life. A TURN server answers STUN Binding requests too; when `stun_port` differs from
//! `turn_port` a second server on it refuses every allocation, so it is a plain STUN server.
//! Credentials are checked statelessly (signature and expiry) like any TURN REST deployment;
//! when a room ends its allocations are deleted by username.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::net::UdpSocket;
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_static::RelayAddressGeneratorStatic;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;

/// The realm TURN clients authenticate in.
pub const REALM: &str = "doomlink";
/// The file in the data dir holding the TURN secret.
pub const SECRET_FILE: &str = "turn-secret";

/// The TURN REST password for `username`.
pub fn turn_password(secret: &[u8], username: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The TURN REST username for a room.
pub fn turn_username(room: &str, expires: u64) -> String {
    format!("{expires}:{room}")
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Checks TURN REST credentials: a well-formed, unexpired username signed with our secret.
struct RestAuth {
    secret: Vec<u8>,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let bad = |why: &str| {
            tracing::debug!(%src_addr, username, why, "TURN credentials refused");
            turn::Error::Other(why.to_owned())
        };
        let (expiry, room) = username
            .split_once(':')
            .ok_or_else(|| bad("username is not expiry:room"))?;
        let expiry: u64 = expiry.parse().map_err(|_| bad("expiry is not a number"))?;
        if !crate::signaling::invite::valid_room(room) {
            return Err(bad("bad room id"));
        }
        if expiry <= unix_now() {
            return Err(bad("expired"));
        }
        let password = turn_password(&self.secret, username);
        Ok(generate_auth_key(username, realm, &password))
    }
}

/// The STUN-only server's: no allocation for anyone.
struct NoAuth;

impl AuthHandler for NoAuth {
    fn auth_handle(&self, _: &str, _: &str, _: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        Err(turn::Error::Other("this port serves STUN only".into()))
    }
}

/// Loads the TURN secret from the data dir, or makes one (32 random bytes, owner-only).
pub fn load_or_create_secret(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => match URL_SAFE_NO_PAD.decode(s.trim()) {
            Ok(v) if v.len() >= 16 => Ok(v),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not a TURN secret; move it away to make a new one",
                    path.display()
                ),
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            std::fs::create_dir_all(data_dir)?;
            write_private(&path, URL_SAFE_NO_PAD.encode(secret).as_bytes())?;
            Ok(secret.to_vec())
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// The running STUN/TURN servers.
pub struct Relays {
    turn: Server,
    stun: Option<Server>,
    pub turn_addr: SocketAddr,
    pub stun_addr: SocketAddr,
}

impl Relays {
    /// Binds `bind_ip:turn_port` (and `bind_ip:stun_port` if different; port 0 picks one).
    /// `relay_ip` is the address allocations are advertised at, `relay_bind` where relay
    /// sockets are opened.
    pub async fn start(
        bind_ip: IpAddr,
        turn_port: u16,
        stun_port: u16,
        relay_ip: IpAddr,
        relay_bind: IpAddr,
        secret: Vec<u8>,
    ) -> std::io::Result<Relays> {
        let turn_sock = Arc::new(UdpSocket::bind(SocketAddr::new(bind_ip, turn_port)).await?);
        let turn_addr = turn_sock.local_addr()?;
        let io = |e: turn::Error| std::io::Error::other(e.to_string());
        let turn = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: turn_sock,
                relay_addr_generator: Box::new(RelayAddressGeneratorStatic {
                    relay_address: relay_ip,
                    address: relay_bind.to_string(),
                    net: Arc::new(Net::new(None)),
                }),
            }],
            realm: REALM.to_owned(),
            auth_handler: Arc::new(RestAuth { secret }),
            channel_bind_timeout: std::time::Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .map_err(io)?;
        let (stun, stun_addr) = if stun_port == turn_port && turn_port != 0 {
            (None, turn_addr)
        } else {
            let sock = Arc::new(UdpSocket::bind(SocketAddr::new(bind_ip, stun_port)).await?);
            let addr = sock.local_addr()?;
            let server = Server::new(ServerConfig {
                conn_configs: vec![ConnConfig {
                    conn: sock,
                    relay_addr_generator: Box::new(RelayAddressGeneratorStatic {
                        relay_address: relay_ip,
                        address: relay_bind.to_string(),
                        net: Arc::new(Net::new(None)),
                    }),
                }],
                realm: REALM.to_owned(),
                auth_handler: Arc::new(NoAuth),
                channel_bind_timeout: std::time::Duration::ZERO,
                alloc_close_notify: None,
            })
            .await
            .map_err(io)?;
            (Some(server), addr)
        };
        Ok(Relays {
            turn,
            stun,
            turn_addr,
            stun_addr,
        })
    }

    /// Drops a room's allocations (its relayed game traffic stops).
    pub async fn end_room(&self, username: String) {
        if let Err(e) = self.turn.delete_allocations_by_username(username).await {
            tracing::debug!("deleting allocations: {e}");
        }
    }

    pub async fn close(&self) {
        let _ = self.turn.close().await;
        if let Some(s) = &self.stun {
            let _ = s.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_credentials_check_signature_and_expiry() {
        let auth = RestAuth {
            secret: b"topsecret".to_vec(),
        };
        let src: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let user = turn_username("abcd1234", unix_now() + 60);
        let key = auth.auth_handle(&user, REALM, src).unwrap();
        assert_eq!(
            key,
            generate_auth_key(&user, REALM, &turn_password(b"topsecret", &user))
        );
        assert!(auth
            .auth_handle(&turn_username("abcd1234", 5), REALM, src)
            .is_err());
        assert!(auth.auth_handle("nonsense", REALM, src).is_err());
        // RFC 2104 test vector shape: HMAC-SHA1 is 20 bytes, 28 chars of base64.
        assert_eq!(turn_password(b"k", "u").len(), 28);
    }
}
