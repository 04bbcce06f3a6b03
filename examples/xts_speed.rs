//! Throughput of the sector cipher alone, in the form `openssl speed -evp aes-256-xts -bytes
//! 4096` reports it: one 4096-byte sector encrypted over and over, for a fixed time, on N
//! threads. Used by scripts/bench.sh; prints one line: `MB/s <value>`.
//!
//! cargo run --release --example xts_speed -- [THREADS] [SECONDS]

use std::time::{Duration, Instant};

use ssefs::crypto::{DataKey, SECTOR_SIZE, SectorCipher};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let key = DataKey::generate().expect("RNG");
    let cipher = SectorCipher::new(&key).expect("cipher");
    let limit = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let cipher = &cipher;
                s.spawn(move || {
                    let mut buf = vec![t as u8; SECTOR_SIZE];
                    let mut sectors = 0u64;
                    let begin = Instant::now();
                    while begin.elapsed() < limit {
                        for _ in 0..256 {
                            cipher.encrypt_sectors(sectors, &mut buf).expect("encrypt");
                            sectors += 1;
                        }
                    }
                    sectors * SECTOR_SIZE as u64
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    let mbps = total as f64 / started.elapsed().as_secs_f64() / 1e6;
    println!("MB/s {mbps:.0}");
}
