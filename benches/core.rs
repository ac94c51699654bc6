//! Criterion benchmarks of the core's hot paths (no FFI, no threads):
//! ID validation, a cache probe, building a conversation's view, import
//! parsing. `make bench` runs them after the C ABI benchmarks.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use imconv::cache::{Cache, Probe};
use imconv::config::Durability;
use imconv::ffi::ConversationView;
use imconv::json::parse_conversations;
use imconv::model::Snapshot;
use imconv::model::{ConversationId, IdList};
use imconv::store::Store;

fn document(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_user{i:07}","showName":"User {i:07}","faceUrl":"https://cdn.example.com/avatars/{i:07}.png","unreadCount":{u},"recvOpt":0,"isPinned":false,"orderKey":{i},"markList":[1],"conversationGroupList":["Work"],"lastMessage":{{"elemType":1,"isRead":false,"isSelf":false,"msgID":"msg-{i:07}-1700000000","sender":"user{i:07}","seq":{i},"status":2,"textElem":{{"text":"See you at the station at half past eight, and bring the tickets for the early train."}},"timestamp":{t}}}}}"#,
                u = i % 13,
                t = 1_700_000_000 + i
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn ids(c: &mut Criterion) {
    c.bench_function("conversation_id_parse", |b| {
        b.iter(|| ConversationId::parse(black_box("group_@TGS#_project-apollo")).unwrap())
    });
    let mut g = c.benchmark_group("id_list");
    g.throughput(Throughput::Elements(100));
    g.bench_function("push_100", |b| {
        let names: Vec<String> = (0..100).map(|i| format!("c2c_user{i:07}")).collect();
        b.iter(|| {
            let mut l = IdList::with_capacity(100);
            for n in &names {
                l.push(n).unwrap();
            }
            l
        })
    });
    g.finish();
}

fn cache(c: &mut Criterion) {
    for size in [10_000usize, 100_000] {
        let cache: Cache<u64> = Cache::new(size * 2);
        let keys: Vec<_> = (0..size)
            .map(|i| ConversationId::parse(&format!("c2c_user{i:07}")).unwrap())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            cache.put(k.text(), Some(Arc::new(i as u64)));
        }
        let mut x = 1u64;
        c.bench_function(&format!("cache_probe_hit_{size}"), |b| {
            b.iter(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = &keys[(x % size as u64) as usize];
                matches!(cache.probe(k.as_str()), Probe::Stored(_))
            })
        });
    }
}

fn import(c: &mut Criterion) {
    let doc = document(1000);
    let mut g = c.benchmark_group("import");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("parse_1000", |b| {
        b.iter(|| parse_conversations(black_box(doc.as_bytes())).unwrap())
    });
    let parsed = parse_conversations(doc.as_bytes()).unwrap();
    g.bench_function("build_views_1000", |b| {
        b.iter_batched(
            || parsed.clone(),
            |convs| {
                convs
                    .into_iter()
                    .map(|c| ConversationView::build(c, true))
                    .collect::<Vec<_>>()
            },
            BatchSize::LargeInput,
        )
    });
    let dir = std::env::temp_dir().join(format!("imconv-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(Some(&dir), Durability::Normal).unwrap();
    g.bench_function("store_write_1000", |b| {
        b.iter(|| store.upsert(&parsed).unwrap())
    });
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    g.finish();
}

criterion_group!(benches, ids, cache, import);
criterion_main!(benches);
