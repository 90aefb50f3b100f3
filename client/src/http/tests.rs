use super::*;

#[test]
fn content_length_body_waits_for_all_bytes() {
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    assert_eq!(
        parse_response(&full[..full.len() - 1], false, false).ok(),
        Some(None)
    );
    let res = parse_response(full, false, false).unwrap().unwrap();
    assert_eq!((res.status, res.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(res.header("x-a"), Some("b"));
    assert!(parse_response(&full[..full.len() - 1], true, false).is_err());
}

#[test]
fn chunked_body_is_joined() {
    let full = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n\
                 4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n";
    for cut in 0..full.len() - 5 {
        assert_eq!(
            parse_response(&full[..cut], false, false).ok(),
            Some(None),
            "{cut}"
        );
    }
    let res = parse_response(full, false, false).unwrap().unwrap();
    assert_eq!(res.body, b"Wikipedia in \r\n\r\nchunks.");
    let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert!(parse_response(bad, false, false).is_err());
    let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
    assert!(parse_response(huge, false, false).is_err());
}

#[test]
fn bodiless_and_interim_responses() {
    let res = parse_response(b"HTTP/1.1 204 No Content\r\n\r\n", false, false)
        .unwrap()
        .unwrap();
    assert_eq!((res.status, res.json()), (204, Value::Null));
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    assert!(parse_response(head, false, true)
        .unwrap()
        .unwrap()
        .body
        .is_empty());
    let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Too Large\r\n\r\nx";
    assert_eq!(parse_response(interim, false, false).ok(), Some(None));
    let res = parse_response(interim, true, false).unwrap().unwrap();
    assert_eq!((res.status, res.text().as_str()), (413, "x"));
    assert!(parse_response(b"garbage\r\n\r\n", false, false).is_err());
}

#[test]
fn multipart_layout() {
    let (body, ct) = multipart_file("file", "a\"b.txt", "text/plain", b"data");
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text,
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"a%22b.txt\"\r\nContent-Type: text/plain\r\n\r\ndata\r\n--{boundary}--\r\n"
        )
    );
}

#[tokio::test]
async fn round_trip_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") || !req.ends_with(b"{\"a\":1}") {
            let n = s.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"b\r\n4\r\n\":2}\r\n0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(req).unwrap()
    });
    let http = Http::new(format!("http://{addr}/"));
    let (status, body) = http
        .request("PUT", "/x", Some("tok"), Some(&serde_json::json!({"a": 1})))
        .await
        .unwrap();
    assert_eq!((status, body), (200, serde_json::json!({"b": 2})));
    let req = server.await.unwrap();
    assert!(req.starts_with("PUT /x HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("\r\nAuthorization: Bearer tok\r\n"), "{req}");
    assert!(req.contains("\r\nContent-Length: 7\r\n"), "{req}");
    assert!(
        req.contains("\r\nContent-Type: application/json\r\n"),
        "{req}"
    );
}
