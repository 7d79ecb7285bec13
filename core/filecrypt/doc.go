// Package filecrypt encrypts files for storage backends the node does not
// trust with plaintext, in the format "nvm-aead-v1" ([Scheme]), and reads the
// legacy "Salted__" format of the reference node's uploads (SPEC 6.3).
//
// # nvm-aead-v1
//
// The format is authenticated, streamable and seekable: an object is a
// fixed header followed by the plaintext cut into 64 KiB chunks, each sealed
// on its own with AES-256-GCM. A reader holds one chunk at a time, and can
// start at any chunk, so a byte range of the plaintext costs at most two
// partial chunks of extra reading. The chunk nonces follow the STREAM
// construction (Hoang, Reyhanitabar, Rogaway and Vizár, "Online
// Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015),
// as age and Tink's streaming AEAD use it: the nonce binds each chunk to
// its position and marks the last one, so reordered, dropped, duplicated,
// truncated or appended chunks, and any edit of the header (which every
// chunk takes as associated data), fail authentication. No byte of a chunk
// is returned before the whole chunk has been authenticated.
//
// The byte layout, enough to write another implementation, is in
// FORMAT.md next to this file. In short:
//
//	header  = "NVM-AEAD" | 0x01 | 0x00 0x00 0x00 | uint32be(65536) | salt[32]   (48 bytes)
//	key     = HKDF-SHA256(ikm = UTF-8 password, salt, info = "nvm-aead-v1 payload key"), 32 bytes
//	chunk i = AES-256-GCM(key).Seal(nonce = uint88be(i) | last?0x01:0x00, plaintext[i*64KiB : ...], ad = header)
//
// # Passwords and key derivation
//
// The password is not something a person chose: [NewPassword] makes it from
// 32 random bytes (256 bits), as the reference node does for uploads. With
// that much entropy a slow password hash (PBKDF2, scrypt, Argon2) would add
// cost and no security, so the key is derived with HKDF alone; the random
// per-object salt makes every object's key, and so every nonce, unique.
// Writers refuse passwords shorter than 32 bytes so the format is not used
// with guessable ones.
//
// # Legacy "Salted__"
//
// [NewSaltedReader] and [EncryptSalted] implement the reference node's
// upload encryption (OpenSSL "enc" layout: "Salted__", an 8-byte salt,
// PBKDF2-HMAC-SHA256 with 10000 iterations giving key and IV, AES-256-CBC
// with a custom pad under PKCS#7), fixed to work on raw bytes. It is not
// authenticated; a wrong password or a damaged object is usually, not
// always, caught by the padding checks. Use it only to read old objects.
package filecrypt
