//! Known-answer tests from the published specifications, then the JAM
//! constructions built on them: round trips, tampering, and a property test.

use super::*;
use proptest::prelude::*;

fn h<const N: usize>(s: &str) -> [u8; N] {
    let v = hex::decode(s.replace([' ', '\n'], "")).expect("hex");
    <[u8; N]>::try_from(v.as_slice()).expect("length")
}

fn hv(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).expect("hex")
}

// ---------------------------------------------------------------------------
// draft-irtf-cfrg-xchacha-03, Appendix A.3.1: AEAD_XChaCha20_Poly1305
// ---------------------------------------------------------------------------

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you \
only one tip for the future, sunscreen would be it.";

#[test]
fn xchacha20poly1305_draft_a_3_1() {
    let key: [u8; 32] = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 24] = h("404142434445464748494a4b4c4d4e4f5051525354555657");
    let aad = hv("50515253c0c1c2c3c4c5c6c7");
    let ciphertext = hv(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb\
                         731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452\
                         2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
                         21f9664c97637da9768812f615c68b13b52e",
    );
    let tag = hv("c0875924c1c7987947deafd8780acf49");

    let sealed = seal(&key, &nonce, &aad, SUNSCREEN).unwrap();
    assert_eq!(sealed.len(), SUNSCREEN.len() + TAG_LEN);
    assert_eq!(
        hex::encode(&sealed[..SUNSCREEN.len()]),
        hex::encode(&ciphertext)
    );
    assert_eq!(hex::encode(&sealed[SUNSCREEN.len()..]), hex::encode(&tag));
    assert_eq!(open(&key, &nonce, &aad, &sealed).unwrap(), SUNSCREEN);
    let mut flipped = sealed.clone();
    flipped[0] ^= 1;
    assert!(open(&key, &nonce, &aad, &flipped).is_err());
}

// ---------------------------------------------------------------------------
// RFC 7748 §5.2 (X25519 scalar multiplication) and §6.1 (Diffie-Hellman)
// ---------------------------------------------------------------------------

#[test]
fn x25519_rfc7748_5_2() {
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (scalar, u, out) in cases {
        let id = Identity::from_secret_bytes(h(scalar));
        assert_eq!(hex::encode(id.agree(&h(u)).unwrap()), out);
        assert_eq!(hex::encode(x25519_dalek::x25519(h(scalar), h(u))), out);
    }
    // The iterated test, first step: k = u = 9.
    let mut nine = [0u8; 32];
    nine[0] = 9;
    assert_eq!(
        hex::encode(x25519_dalek::x25519(nine, nine)),
        "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
    );
}

const ALICE_SECRET: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_SECRET: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

#[test]
fn x25519_rfc7748_6_1() {
    let alice = Identity::from_secret_bytes(h(ALICE_SECRET));
    let bob = Identity::from_secret_bytes(h(BOB_SECRET));
    assert_eq!(hex::encode(alice.public_key()), ALICE_PUBLIC);
    assert_eq!(hex::encode(bob.public_key()), BOB_PUBLIC);
    assert_eq!(hex::encode(alice.agree(&bob.public_key()).unwrap()), SHARED);
    assert_eq!(hex::encode(bob.agree(&alice.public_key()).unwrap()), SHARED);
    assert_eq!(alice.secret_bytes(), h::<32>(ALICE_SECRET));
}

#[test]
fn x25519_refuses_low_order_points() {
    let id = Identity::generate();
    assert!(id.agree(&[0u8; 32]).is_err());
    let mut one = [0u8; 32];
    one[0] = 1;
    assert!(id.agree(&one).is_err());
}

// ---------------------------------------------------------------------------
// RFC 9106 §5.3: Argon2id
// ---------------------------------------------------------------------------

#[test]
fn argon2id_rfc9106_5_3() {
    let params = argon2::ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .output_len(32)
        .data(argon2::AssociatedData::new(&[0x04; 12]).unwrap())
        .build()
        .unwrap();
    let argon =
        Argon2::new_with_secret(&[0x03; 8], Algorithm::Argon2id, Version::V0x13, params).unwrap();
    let mut tag = [0u8; 32];
    argon
        .hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
        .unwrap();
    assert_eq!(
        hex::encode(tag),
        "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
    );
}

// ---------------------------------------------------------------------------
// RFC 5869 A.3: HKDF-SHA256 without salt or info (the wrapping key uses no
// salt, which HKDF treats as a zero-filled one).
// ---------------------------------------------------------------------------

#[test]
fn hkdf_sha256_rfc5869_a_3() {
    let mut okm = [0u8; 42];
    Hkdf::<Sha256>::new(None, &[0x0b; 22])
        .expand(&[], &mut okm)
        .unwrap();
    assert_eq!(
        hex::encode(okm),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    );
}

// ---------------------------------------------------------------------------
// The JAM constructions: fixed-input vectors computed independently (Python
// `cryptography` for X25519, HKDF and ChaCha20-Poly1305, with HChaCha20
// written from draft-irtf-cfrg-xchacha-03 §2.2 and checked against its
// §2.2.1 and A.3.1 vectors), then round trips and tampering.
// ---------------------------------------------------------------------------

const CHANNEL: &str = "382764979046060034";

fn fixed_key() -> ChannelKey {
    ChannelKey::from_bytes(h(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    ))
}

#[test]
fn envelope_fixed_vector() {
    // Ephemeral = RFC 7748 Alice, member = RFC 7748 Bob.
    let ephemeral = Identity::from_secret_bytes(h(ALICE_SECRET));
    let bob = Identity::from_secret_bytes(h(BOB_SECRET));
    assert_eq!(
        hex::encode(wrapping_key(&h(SHARED)).unwrap()),
        "f8b5a052643d7a309fd64219e0f329cafe13237685ebeb3df0b98d3d6088f88b"
    );
    let nonce: [u8; 24] = h("404142434445464748494a4b4c4d4e4f5051525354555657");
    let env = wrap_with(
        &fixed_key(),
        CHANNEL,
        "7",
        &bob.public_key(),
        &ephemeral,
        &nonce,
    )
    .unwrap();
    let expected = Envelope {
        user_id: "7".into(),
        ephemeral_public_key: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=".into(),
        nonce: "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX".into(),
        wrapped_key: "2cdQymE91hG/rgjulmqspY272dN7ahF5tlMXOs+ETkl50stlQoy/pzvuyxN+6390".into(),
    };
    assert_eq!(env, expected);
    assert_eq!(
        unwrap_envelope(&bob, CHANNEL, &expected).unwrap(),
        fixed_key()
    );
    let json = expected.to_json();
    assert_eq!(json["wrapped_key"], expected.wrapped_key.as_str());
    assert_eq!(Envelope::from_json(&json).unwrap(), expected);
}

#[test]
fn message_fixed_vector() {
    let nonce: [u8; 24] = h("606162636465666768696a6b6c6d6e6f7071727374757677");
    let (content, nonce_b64) =
        encrypt_with(&fixed_key(), CHANNEL, b"hello, encrypted world", &nonce).unwrap();
    assert_eq!(nonce_b64, "YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3");
    assert_eq!(
        content,
        "3bzdSjkkdE1NdI9WcQRm2hKJ9F5iNcAJlGgvKsgGM1QLcg6TUvU="
    );
    let plain = decrypt_message(&fixed_key(), CHANNEL, &content, &nonce_b64).unwrap();
    assert_eq!(plain, b"hello, encrypted world");
    let object = serde_json::json!({"channel_id": CHANNEL, "content": content, "nonce": nonce_b64});
    assert_eq!(
        decrypt_message_object(&fixed_key(), &object).unwrap(),
        "hello, encrypted world"
    );
}

#[test]
fn password_identity_is_argon2id_then_x25519() {
    let a = Identity::from_password("alice", "correct horse").unwrap();
    let b = Identity::from_password("alice", "correct horse").unwrap();
    assert_eq!(a.public_key(), b.public_key());
    assert_ne!(
        a.public_key(),
        Identity::from_password("alicf", "correct horse")
            .unwrap()
            .public_key()
    );
    assert_ne!(
        a.public_key(),
        Identity::from_password("alice", "correct horsf")
            .unwrap()
            .public_key()
    );
    // The same with the argon2 crate called directly, then X25519(s, 9).
    let params = Params::new(19456, 2, 1, Some(32)).unwrap();
    let mut secret = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(b"correct horse", b"jam:alice", &mut secret)
        .unwrap();
    assert_eq!(a.secret_bytes(), secret);
    let mut nine = [0u8; 32];
    nine[0] = 9;
    assert_eq!(a.public_key(), x25519_dalek::x25519(secret, nine));
    assert_eq!(STANDARD.decode(a.public_key_b64()).unwrap(), a.public_key());
    assert_eq!(a.public_key_b64().len(), 44);
    // Argon2's 8-byte minimum salt: "jam:" + 3 bytes is too short.
    assert!(matches!(
        Identity::from_password("bob", "pw"),
        Err(Error::Crypto(_))
    ));
    assert!(Identity::from_password("bobb", "pw").is_ok());
}

#[test]
fn envelope_round_trip_and_sizes() {
    let bob = Identity::generate();
    let key = ChannelKey::generate();
    let env = wrap_channel_key(&key, CHANNEL, "9", &bob.public_key()).unwrap();
    assert_eq!(
        STANDARD.decode(&env.ephemeral_public_key).unwrap().len(),
        32
    );
    assert_eq!(STANDARD.decode(&env.nonce).unwrap().len(), 24);
    assert_eq!(STANDARD.decode(&env.wrapped_key).unwrap().len(), 48);
    assert_eq!(unwrap_envelope(&bob, CHANNEL, &env).unwrap(), key);
    // Fresh ephemeral key and nonce each time.
    let again = wrap_channel_key(&key, CHANNEL, "9", &bob.public_key()).unwrap();
    assert_ne!(env.ephemeral_public_key, again.ephemeral_public_key);
    assert_ne!(env.nonce, again.nonce);
    // Someone else, another channel, or any flipped bit: refused.
    assert!(unwrap_envelope(&Identity::generate(), CHANNEL, &env).is_err());
    assert!(unwrap_envelope(&bob, "382764979046060035", &env).is_err());
    for field in 0..3 {
        for bit in [0usize, 7, 100, 190] {
            let mut bad = env.clone();
            let target = match field {
                0 => &mut bad.ephemeral_public_key,
                1 => &mut bad.nonce,
                _ => &mut bad.wrapped_key,
            };
            let mut bytes = STANDARD.decode(&*target).unwrap();
            let i = (bit / 8) % bytes.len();
            bytes[i] ^= 1 << (bit % 8);
            *target = STANDARD.encode(bytes);
            assert!(
                unwrap_envelope(&bob, CHANNEL, &bad).is_err(),
                "{field} {bit}"
            );
        }
    }
    // Malformed fields are errors, not panics.
    let mut bad = env.clone();
    bad.nonce = "AAAA".into();
    assert!(unwrap_envelope(&bob, CHANNEL, &bad).is_err());
    bad = env.clone();
    bad.ephemeral_public_key = "not base64!".into();
    assert!(unwrap_envelope(&bob, CHANNEL, &bad).is_err());
    bad = env;
    bad.wrapped_key = "AAAA".into();
    assert!(unwrap_envelope(&bob, CHANNEL, &bad).is_err());
}

#[test]
fn message_tampering_is_detected() {
    let key = ChannelKey::generate();
    let (content, nonce) = encrypt_message(&key, CHANNEL, b"attack at dawn").unwrap();
    assert_eq!(STANDARD.decode(&nonce).unwrap().len(), 24);
    assert_eq!(STANDARD.decode(&content).unwrap().len(), 14 + TAG_LEN);
    let flip = |b64: &str, bit: usize| {
        let mut bytes = STANDARD.decode(b64).unwrap();
        bytes[bit / 8] ^= 1 << (bit % 8);
        STANDARD.encode(bytes)
    };
    for bit in 0..(14 + TAG_LEN) * 8 {
        let bad = flip(&content, bit);
        assert!(
            decrypt_message(&key, CHANNEL, &bad, &nonce).is_err(),
            "ct bit {bit}"
        );
    }
    for bit in 0..24 * 8 {
        let bad = flip(&nonce, bit);
        assert!(
            decrypt_message(&key, CHANNEL, &content, &bad).is_err(),
            "nonce bit {bit}"
        );
    }
    // Associated data: a channel id one bit off, or none.
    assert!(decrypt_message(&key, "382764979046060035", &content, &nonce).is_err());
    assert!(decrypt_message(&key, "", &content, &nonce).is_err());
    assert!(decrypt_message(&ChannelKey::generate(), CHANNEL, &content, &nonce).is_err());
    // Shapes: short ciphertext, wrong nonce length, not base64.
    assert!(decrypt_message(&key, CHANNEL, "AAAA", &nonce).is_err());
    assert!(decrypt_message(&key, CHANNEL, &content, "AAAAAAAAAAAAAAAA").is_err());
    assert!(decrypt_message(&key, CHANNEL, "%%%", &nonce).is_err());
    assert_eq!(
        decrypt_message(&key, CHANNEL, &content, &nonce).unwrap(),
        b"attack at dawn"
    );
    // Unpadded base64 is read too.
    let unpadded = content.trim_end_matches('=');
    assert!(decrypt_message(&key, CHANNEL, unpadded, &nonce).is_ok());
    // Debug never shows secrets.
    assert_eq!(format!("{key:?}"), "ChannelKey(..)");
    assert!(!format!("{:?}", Identity::generate()).contains("secret"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn message_round_trip(
        key in any::<[u8; 32]>(),
        channel in "[0-9]{1,20}",
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let key = ChannelKey::from_bytes(key);
        let (content, nonce) = encrypt_message(&key, &channel, &plaintext).unwrap();
        prop_assert_eq!(decrypt_message(&key, &channel, &content, &nonce).unwrap(), plaintext);
        let wrong = format!("{channel}0");
        prop_assert!(decrypt_message(&key, &wrong, &content, &nonce).is_err());
    }

    #[test]
    fn envelope_round_trip(
        member in any::<[u8; 32]>(),
        key in any::<[u8; 32]>(),
        channel in "[0-9]{1,20}",
    ) {
        let member = Identity::from_secret_bytes(member);
        let key = ChannelKey::from_bytes(key);
        let env = wrap_channel_key(&key, &channel, "1", &member.public_key()).unwrap();
        prop_assert_eq!(unwrap_envelope(&member, &channel, &env).unwrap(), key);
    }
}
