use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nsl_enclave::{Vault, open_secret, rewrap, seal_secret};

use crate::fresh;

/// Several threads seal and open secrets (and use keys) while the main
/// thread rotates the master key and re-wraps: no operation may fail.
#[test]
fn seal_and_open_never_fail_during_rotation() {
    let (_dir, vault) = fresh();
    vault.generate_signing_key("node").unwrap();
    let pk = vault.public_key("node").unwrap();
    let stop = AtomicBool::new(false);
    let ops = AtomicUsize::new(0);
    let rotations = 5u32;

    let kept = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (vault, stop, ops) = (&vault, &stop, &ops);
                s.spawn(move || {
                    let mut kept = Vec::new();
                    let mut i = 0u64;
                    // Run at least a few rounds even if rotation is quick.
                    while !stop.load(Ordering::Relaxed) || i < 20 {
                        let account = format!("acct-{t}");
                        let name = format!("S{i}");
                        let value = format!("{t}:{i}");
                        let sealed =
                            seal_secret(vault, &account, &name, i, value.as_bytes()).unwrap();
                        let opened = open_secret(vault, &account, &name, i, &sealed).unwrap();
                        assert_eq!(opened.expose_secret(), value.as_bytes());
                        let blob = vault.seal(&account, value.as_bytes()).unwrap();
                        assert_eq!(
                            vault.unseal(&account, &blob).unwrap().expose_secret(),
                            value.as_bytes()
                        );
                        let sig = vault.sign_message("node", value.as_bytes()).unwrap();
                        assert!(pk.verify_message(value.as_bytes(), &sig));
                        if i.is_multiple_of(5) {
                            kept.push((account, name, i, value, sealed));
                        }
                        ops.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                    kept
                })
            })
            .collect();
        for _ in 0..rotations {
            vault.rotate_master_key().unwrap();
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(ops.load(Ordering::Relaxed) >= 80);
    assert_eq!(vault.current_master_key_version().unwrap(), 1 + rotations);

    // Re-wrap everything kept, retire all old versions, and every secret
    // still opens.
    let current = vault.current_master_key_version().unwrap();
    let rewrapped: Vec<_> = kept
        .into_iter()
        .map(|(a, n, v, value, sealed)| (a, n, v, value, rewrap(&vault, &sealed).unwrap()))
        .collect();
    for version in 1..current {
        vault.retire_master_key(version).unwrap();
    }
    for (account, name, version, value, sealed) in &rewrapped {
        assert_eq!(sealed.key_version, current);
        let opened = open_secret(&vault, account, name, *version, sealed).unwrap();
        assert_eq!(opened.expose_secret(), value.as_bytes());
    }
}

/// Rotation and re-wrap both run concurrently with readers that open
/// secrets sealed before any rotation.
#[test]
fn concurrent_rewrap_and_open() {
    let (_dir, vault) = fresh();
    let secrets: Vec<_> = (0..40u64)
        .map(|i| {
            (
                i,
                seal_secret(&vault, "a", "n", i, &i.to_be_bytes()).unwrap(),
            )
        })
        .collect();
    vault.rotate_master_key().unwrap();
    std::thread::scope(|s| {
        for chunk in secrets.chunks(10) {
            let vault = &vault;
            s.spawn(move || {
                for (i, sealed) in chunk {
                    let new = rewrap(vault, sealed).unwrap();
                    for candidate in [sealed, &new] {
                        let opened = open_secret(vault, "a", "n", *i, candidate).unwrap();
                        assert_eq!(opened.expose_secret(), i.to_be_bytes());
                    }
                }
            });
        }
        s.spawn(|| {
            for _ in 0..3 {
                vault.rotate_master_key().unwrap();
            }
        });
    });
    assert_eq!(vault.current_master_key_version().unwrap(), 5);
}
