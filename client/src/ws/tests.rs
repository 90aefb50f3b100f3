use super::*;

#[test]
fn urls() {
    assert_eq!(ws_url("127.0.0.1:80"), "ws://127.0.0.1:80/ws");
    assert_eq!(ws_url("http://h:1/"), "ws://h:1/ws");
    assert_eq!(ws_url("ws://h:1/other"), "ws://h:1/other");
}

#[tokio::test]
async fn sequence_numbers_are_checked() {
    use tokio::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        for text in [
            r#"{"op":1,"d":{"protocol":"jam/0.1"},"s":1}"#,
            r#"{"op":70,"d":{},"s":2}"#,
            r#"{"op":4,"d":{"code":"INVALID","message":"no","ref":"r"},"s":3}"#,
            r#"{"op":10,"d":{},"s":5}"#,
        ] {
            ws.send(Message::Text(text.into())).await.unwrap();
        }
        let _ = ws.next().await;
    });
    let (mut socket, hello) = JamSocket::connect(addr).await.unwrap();
    assert_eq!(hello["protocol"], "jam/0.1");
    match socket.recv_op(10).await {
        Err(Error::Jam { code, d, .. }) => {
            assert_eq!((code.as_str(), &d["ref"]), ("INVALID", &json!("r")))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(socket.last_s(), 3);
    assert!(matches!(socket.recv().await, Err(Error::Protocol(_))));
    socket.close().await.unwrap();
    server.await.unwrap();
}
