#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The cost breakdown of the KMS handler from a perf profile of bench_service --profile (see
# docs/performance.md): each sample under kms_service_handle is given to the first phase in the
# list below found on its stack (innermost frames first), and the shares are printed.
#   perf record -e cpu-clock -F 2000 --call-graph dwarf,32768 -o perf.data \
#       build/bin/bench_service --profile 3 100000
#   bench/service_phases.py perf.data
import sys,subprocess,collections
phases=[("keyring reservation write (kr_update)","kr_update"),
        ("random (RAND_bytes)","kms_random"),
        ("Kkms AES-GCM seal","kms_ticket_seal"),
        ("Kkms AES-GCM open","kms_ticket_open"),
        ("replay guard","replay_check"),("replay guard","replay_commit"),
        ("request MAC key derivation","kms_mikey_verify:kms_mikey_msg_keys_ticket"),
        ("request MAC","kms_mikey_mac_verify"),
        ("response key derivation","kms_mikey_seal:kms_mikey_msg_keys_ticket"),
        ("response AES-CM","kms_mikey_aes_cm"),
        ("response MAC","kms_mikey_seal:kms_mikey_mac"),
        ("response encode","kms_mikey_seal"),
        ("response build other","kms_preq_resp_build"),
        ("decode (classify)","kms_kreq_classify"),
        ("wipes (kms_wipe)","kms_wipe"),
        ("alloc/free","calloc"),("alloc/free","malloc"),("alloc/free","free"),("alloc/free","cfree"),("alloc/free","_int_free"),
        ]
out=subprocess.run(["perf","script","-i",sys.argv[1],"-F","ip,sym"],capture_output=True,text=True).stdout
cnt=collections.Counter(); tot=0; alls=0
for block in out.split("\n\n"):
    syms=[l.split(None,1)[1].strip() if len(l.split(None,1))>1 else "" for l in block.strip().split("\n") if l.strip()]
    syms=[s.replace(" (inlined)","") for s in syms]
    if not syms: continue
    alls+=1
    if "kms_service_handle" not in syms: continue
    tot+=1
    idx=syms.index("kms_service_handle"); st=syms[:idx]  # innermost first
    got=None
    for name,key in phases:
        if ":" in key:
            outer,inner=key.split(":")
            if inner in st and outer in st and st.index(inner)<st.index(outer): got=name;break
        elif key in st: got=name;break
    cnt[got or "other"]+=1
print("samples in handler %d of %d"%(tot,alls))
for k,v in sorted(cnt.items(),key=lambda x:-x[1]): print("%-40s %5.1f%%"%(k,100*v/tot))
