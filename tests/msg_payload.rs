//! `Payload`: the size each std type and wrapper counts, and that the queue counts exactly
//! that against `msg_qbytes` and in `msg_cbytes` (msgop(2): `msgsz`).

use std::sync::Arc;

use svipc::msg::{MsqidSet, SizeOf};
use svipc::{Credentials, ErrorKind, Key, MessageQueue, Namespace, Payload, Process, Select};

fn me(ns: &Namespace) -> Process {
    ns.process(Credentials::new(1000, 1000))
}

/// A private queue of `qbytes` bytes.
fn queue<T: Payload>(p: &Process, qbytes: u64) -> MessageQueue<T> {
    let q: MessageQueue<T> = p.msg_queue(Key::PRIVATE).create(0o600).open().unwrap();
    q.set(MsqidSet { qbytes, ..MsqidSet::from(&q.stat().unwrap()) }).unwrap();
    q
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Order {
    id: u64,
    qty: u32,
}

#[test]
fn sizes_of_the_std_impls() {
    assert_eq!(vec![1u8, 2, 3].size(), 3);
    assert_eq!(vec![1u32, 2, 3].size(), 12);
    assert_eq!(vec![String::from("ab"), String::from("cde")].size(), 5);
    assert_eq!(Vec::<u64>::new().size(), 0);
    assert_eq!([7u16, 8][..].size(), 4);
    assert_eq!(Box::<[u8]>::from(&b"hello"[..]).size(), 5);
    assert_eq!(Box::<str>::from("héllo").size(), 6);
    assert_eq!(Box::new(7u64).size(), 8);
    assert_eq!(Arc::<[u8]>::from(&b"abcd"[..]).size(), 4);
    assert_eq!(Arc::<str>::from("xyz").size(), 3);
    assert_eq!(Arc::new(vec![0u16; 10]).size(), 20);
    assert_eq!(Some(5u32).size(), 4);
    assert_eq!(None::<u32>.size(), 0);
    assert_eq!(Some(String::from("four")).size(), 4);
    assert_eq!((1u8,).size(), 1);
    assert_eq!((1u8, 2u64).size(), 9, "the sum of the elements, not the padded tuple");
    assert_eq!(
        (1u8, String::from("ab"), vec![0u32; 2], Some(1u16), [0u8; 3], 'c').size(),
        1 + 2 + 8 + 2 + 3 + 4
    );
    assert_eq!([0u8; 5].size(), 5);
    assert_eq!(().size(), 0);
    assert_eq!(SizeOf(Order { id: 1, qty: 2 }).size(), 16);
    assert_eq!(vec![SizeOf(Order { id: 1, qty: 2 }); 3].size(), 48);
    // A Vec of a type without a fixed size visits each element.
    assert_eq!(vec![None, Some(1u64), None, Some(2u64)].size(), 16);
}

#[test]
fn fixed_sizes() {
    assert_eq!(u64::fixed_size(), Some(8));
    assert_eq!(<[u8; 7]>::fixed_size(), Some(7));
    assert_eq!(SizeOf::<Order>::fixed_size(), Some(16));
    assert_eq!(<(u8, u32, SizeOf<Order>)>::fixed_size(), Some(21));
    assert_eq!(<(u8, String)>::fixed_size(), None);
    assert_eq!(String::fixed_size(), None);
    assert_eq!(Vec::<u8>::fixed_size(), None);
    assert_eq!(Option::<u8>::fixed_size(), None);
    assert_eq!(Box::<u8>::fixed_size(), None, "not forwarded: Box<T> takes unsized T too");
}

#[test]
fn size_of_wraps_transparently() {
    let mut o = SizeOf::from(Order { id: 3, qty: 4 });
    o.qty += 1; // DerefMut
    assert_eq!((o.id, o.qty), (3, 5)); // Deref
    assert_eq!(o.into_inner(), Order { id: 3, qty: 5 });
}

#[test]
fn the_queue_counts_each_size_against_qbytes() {
    let ns = Namespace::new();
    let p = me(&ns);

    // SizeOf: 16 bytes a message; 40 bytes of room take two, the third waits.
    let q: MessageQueue<SizeOf<Order>> = queue(&p, 40);
    q.try_send(1, SizeOf(Order { id: 1, qty: 1 })).unwrap();
    q.try_send(1, SizeOf(Order { id: 2, qty: 2 })).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 32);
    let e = q.try_send(1, SizeOf(Order { id: 3, qty: 3 })).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert_eq!(e.into_inner().id, 3);
    assert_eq!(q.try_recv(Select::Any).unwrap().1.into_inner(), Order { id: 1, qty: 1 });
    assert_eq!(q.stat().unwrap().cbytes, 16);

    // Arc: each message counts the bytes it carries, shared or not.
    let q: MessageQueue<Arc<str>> = queue(&p, 10);
    let text: Arc<str> = Arc::from("hello");
    q.try_send(1, text.clone()).unwrap();
    q.try_send(2, text.clone()).unwrap();
    assert_eq!((q.stat().unwrap().cbytes, Arc::strong_count(&text)), (10, 3));
    assert_eq!(q.try_send(3, text.clone()).unwrap_err().kind(), ErrorKind::WouldBlock);
    let (_, got) = q.try_recv(Select::Any).unwrap();
    assert!(Arc::ptr_eq(&got, &text), "zero-copy: the same allocation comes out");

    // Option: None is a zero-length message, which msgsnd allows.
    let q: MessageQueue<Option<u64>> = queue(&p, 8);
    q.try_send(1, None).unwrap();
    q.try_send(1, Some(9)).unwrap();
    let ds = q.stat().unwrap();
    assert_eq!((ds.qnum, ds.cbytes), (2, 8));
    assert_eq!(q.try_send(1, Some(10)).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(q.try_recv(Select::Any).unwrap(), (1, None));

    // A tuple and a Vec of payloads: the sums.
    let q: MessageQueue<(u32, String, Vec<u16>)> = queue(&p, 100);
    q.try_send(4, (7, "abc".into(), vec![1, 2])).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 4 + 3 + 4);
    assert_eq!(q.try_recv(Select::Type(4)).unwrap().1, (7, "abc".to_string(), vec![1, 2]));

    // MSGMAX (8192) applies to the counted size: a Vec of 2049 u32s is 8196 bytes.
    let q: MessageQueue<Vec<u32>> = queue(&p, 16384);
    let e = q.try_send(1, vec![0; 2049]).unwrap_err();
    assert_eq!((e.kind(), e.error().detail()), (ErrorKind::InvalidArgument, Some("size is above MSGMAX")));
    q.try_send(1, vec![0; 2048]).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 8192);
}

/// `Payload` stays dyn-compatible: a queue of boxed trait objects carries mixed messages.
#[test]
fn boxed_trait_objects() {
    let ns = Namespace::new();
    let q: MessageQueue<Box<dyn Payload>> = queue(&me(&ns), 100);
    q.try_send(1, Box::new(5u64)).unwrap();
    q.try_send(1, Box::new(String::from("abc"))).unwrap();
    assert_eq!(q.stat().unwrap().cbytes, 11);
    assert_eq!(q.try_recv(Select::Any).unwrap().1.size(), 8);
}
