//! jsonwebtoken's signature primitives through ring, the crypto library the function already links for TLS.
//!
//! jsonwebtoken 12 leaves its cryptography to a process-wide provider; its built-in RustCrypto provider verifies
//! RS256 with a pure-Rust bignum (`rsa`/`crypto-bigint`), which a profile of the authorizer's cold start showed
//! as its largest single item, and links a second crypto stack (`rsa`, `p256`, `p384`, `ed25519-dalek`, `sha2`).
//! This provider verifies RS256, the one algorithm the authorizer accepts, with ring's constant-time RSA; it also
//! signs RS256 and HS256 so that a test process (which signs its tokens through jsonwebtoken) can run on it too.
//! Every other algorithm, and any key that is not RSA for RS256, is refused.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};

/// The provider the authorizer installs (see [`install`]).
pub static PROVIDER: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, key_utils: KeyUtils::new_unimplemented() };

/// Makes [`PROVIDER`] the process's jsonwebtoken provider. `Err` when another provider was installed first (a
/// test process that signed a token before building an authorizer); verification then follows that provider's
/// rules, which for RS256 are the same.
pub fn install() -> std::result::Result<(), &'static str> {
    match PROVIDER.install_default() {
        Ok(()) => Ok(()),
        Err(existing) if std::ptr::eq(existing, &PROVIDER) => Ok(()),
        Err(_) => Err("another jsonwebtoken crypto provider was installed first"),
    }
}

fn refused() -> Error {
    Error::from(ErrorKind::InvalidAlgorithm)
}

struct Rs256Verifier(RsaPublicKeyComponents<Vec<u8>>);

impl Verifier<Vec<u8>> for Rs256Verifier {
    fn verify(&self, message: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        // 2048 to 8192-bit moduli, as RFC 7518 requires at least 2048 for RS256.
        self.0.verify(&RSA_PKCS1_2048_8192_SHA256, message, sig).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Rs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    match (algorithm, key.kind()) {
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Ok(Box::new(Rs256Verifier(RsaPublicKeyComponents { n: n.clone(), e: e.clone() })))
        }
        _ => Err(refused()),
    }
}

struct Rs256Signer(RsaKeyPair);

impl Signer<Vec<u8>> for Rs256Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut out = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), message, &mut out)
            .map_err(|_| signature::Error::new())?;
        Ok(out)
    }
}

impl JwtSigner for Rs256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

struct Hs256Signer(ring::hmac::Key);

impl Signer<Vec<u8>> for Hs256Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(ring::hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl JwtSigner for Hs256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match (algorithm, key.family()) {
        (Algorithm::RS256, AlgorithmFamily::Rsa) => {
            // `EncodingKey::from_rsa_pem` keeps the PKCS#1 RSAPrivateKey DER.
            let pair = RsaKeyPair::from_der(key.as_bytes())
                .map_err(|e| Error::from(ErrorKind::InvalidRsaKey(e.to_string())))?;
            Ok(Box::new(Rs256Signer(pair)))
        }
        (Algorithm::HS256, AlgorithmFamily::Hmac) => {
            Ok(Box::new(Hs256Signer(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes()))))
        }
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn public(name: &str) -> DecodingKey {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&key(&format!("{name}.jwk.json"))).unwrap();
        DecodingKey::from_jwk(&jwk).unwrap()
    }

    #[test]
    fn rs256_verifies_its_own_signatures_and_nothing_else() {
        let private = EncodingKey::from_rsa_pem(key("primary.pem").as_bytes()).unwrap();
        let sig = signer(&Algorithm::RS256, &private).unwrap().try_sign(b"header.payload").unwrap();
        let check = verifier(&Algorithm::RS256, &public("primary")).unwrap();
        assert!(check.verify(b"header.payload", &sig).is_ok());
        assert!(check.verify(b"header.payload!", &sig).is_err(), "another message");
        let other = verifier(&Algorithm::RS256, &public("attacker")).unwrap();
        assert!(other.verify(b"header.payload", &sig).is_err(), "another key");
        let mut bent = sig.clone();
        bent[10] ^= 1;
        assert!(check.verify(b"header.payload", &bent).is_err(), "a changed signature");
    }

    #[test]
    fn every_other_algorithm_or_key_kind_is_refused() {
        let rsa = public("primary");
        for alg in [Algorithm::HS256, Algorithm::RS384, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA] {
            assert!(verifier(&alg, &rsa).is_err(), "{alg:?}");
        }
        let secret = DecodingKey::from_secret(key("primary.pub.pem").as_bytes()).unwrap();
        assert!(verifier(&Algorithm::RS256, &secret).is_err(), "an HMAC secret is no RSA key");
        let hmac = EncodingKey::from_secret(b"secret").unwrap();
        assert!(signer(&Algorithm::RS256, &hmac).is_err());
        assert!(signer(&Algorithm::ES256, &hmac).is_err());
    }
}
