//! Passwords: argon2id with OWASP's first recommended parameters (19 MiB, 2 passes, 1 lane),
//! kept as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) so that a later
//! change of parameters still verifies the hashes made before it.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Bytes of salt for each hash (RFC 9106 recommends 16).
pub const SALT_BYTES: usize = 16;
/// Shortest password taken (NIST SP 800-63B's floor).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password taken: argon2 reads it whole, and the payload limit is the API's.
pub const MAX_PASSWORD_BYTES: usize = 1024;

const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password is not taken for a new account.
pub fn check(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// The PHC string of `password` hashed with `salt`.
pub fn hash(password: &str, salt: &[u8; SALT_BYTES]) -> String {
    argon2()
        .hash_password_with_salt(password.as_bytes(), salt)
        .expect("a 16-byte salt and a bounded password hash")
        .to_string()
}

/// Whether `password` is the one `phc` was made from. The hashes are compared in constant
/// time (the `password-hash` crate's `Output`).
pub fn verify(password: &str, phc: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES
        && argon2().verify_password(password.as_bytes(), phc).is_ok()
}

/// Spends the time a verification takes, for a name with no account: a sign-on answers as
/// slowly for a name nobody registered as for a wrong password.
pub fn verify_nothing(password: &str) {
    let _ = verify(password, DUMMY_HASH);
}

/// The hash of a password nobody knows, with the current parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm8gb25lJ3Mgc2FsdA$V4i5+2z9ORdeV1i7GRWx1y1N3qaMnCkOPo9lDvUYKnI";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_and_no_other() {
        let phc = hash("correct horse", &[1; SALT_BYTES]);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct horsf", &phc));
        assert!(!verify("correct horse", "not a hash"));
        // Another salt, another hash.
        assert_ne!(phc, hash("correct horse", &[2; SALT_BYTES]));
    }

    #[test]
    fn the_dummy_hash_is_a_hash_with_the_current_parameters() {
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!verify("", DUMMY_HASH));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check("1234567").is_err());
        assert!(check("12345678").is_ok());
        assert!(check("ééééééé").is_err());
        assert!(check(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
