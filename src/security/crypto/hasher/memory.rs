//! The hashing threads' Argon2 memory: a verification computed in a buffer the thread reuses
//! (no 19 MiB allocation and page faults per sign-in), and the allocator settings that give
//! those buffers back to the OS once the threads are gone.

use argon2::password_hash::PasswordHash;
use argon2::Argon2;
use subtle::ConstantTimeEq;

use super::verify_password;

/// Verifies `password` against `phc`, computing Argon2 in `memory` (grown as the parameters need).
pub(super) fn verify_with_memory(
    password: &str,
    phc: &str,
    memory: &mut Vec<argon2::Block>,
) -> bool {
    use argon2::{Algorithm, Params, Version};
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return verify_password(password, phc);
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return verify_password(password, phc);
    };
    let argon = Argon2::new(algorithm, version, params);
    let blocks = argon.params().block_count();
    if memory.len() < blocks {
        *memory = vec![argon2::Block::default(); blocks];
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return verify_password(password, phc);
    };
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

/// Has the allocator map every block of 4 MiB or more on its own (Argon2's 19 MiB buffers), so
/// that freeing one always returns it to the OS. Why: glibc raises its mapping threshold to the
/// size of the largest mapped block freed, so once one Argon2 buffer has been freed the next ones
/// are carved from the hashing thread's allocator arena; when that thread exits, the freed buffer
/// stays at the top of its arena, which neither `free` (its trim threshold rises with the mapping
/// threshold) nor `malloc_trim` (it trims the top of the main arena only) gives back: 19 MiB of
/// idle RSS in some bench runs. Setting the threshold turns that adjustment off; smaller blocks
/// are placed as before.
pub(super) fn map_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it may be called at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Returns freed heap memory to the OS (glibc keeps freed 19 MiB blocks in its arenas otherwise).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
