// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.17;

/// @title Minimal ERC-1271 contract wallet used by the core/auth tests.
/// @notice Accepts a 65-byte r||s||v signature over the given hash by its owner.
contract Wallet {
    bytes4 internal constant MAGIC = 0x1626ba7e;

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) {
            return 0xffffffff;
        }
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) {
            v += 27;
        }
        if (ecrecover(hash, v, r, s) == owner) {
            return MAGIC;
        }
        return 0xffffffff;
    }
}
