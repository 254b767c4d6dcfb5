#!/usr/bin/env python3
# Where a JFR recording says the CPU went: jdk.ExecutionSample counted by thread (numbers folded), by top frame and
# by package (inclusive, once per sample). Usage: bench/jfr-top.py FILE.jfr
import json,sys,collections,re,subprocess
# usage: top.py file.jfr [t0 t1 seconds from start]
f=sys.argv[1]
data=json.loads(subprocess.run(['jfr','print','--json','--events','jdk.ExecutionSample',f],capture_output=True,text=True).stdout)
ev=data['recording']['events']
top=collections.Counter(); thr=collections.Counter(); pkg=collections.Counter(); incl=collections.Counter()
def tname(e):
    n=e['values']['sampledThread']['javaName'] or e['values']['sampledThread']['osName']
    return re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}','UUID',re.sub(r'\d+','N',n))
for e in ev:
    fr=e['values']['stackTrace']['frames'] if e['values']['stackTrace'] else []
    thr[tname(e)]+=1
    if fr:
        m=fr[0]['method']; top[m['type']['name']+'.'+m['name']]+=1
        seen=set()
        for x in fr:
            k=x['method']['type']['name']
            p='.'.join(k.split('.')[:4])
            if p not in seen: seen.add(p); incl[p]+=1
n=len(ev); print('samples',n)
print('== by thread'); [print(f'{c:6d} {100*c/n:5.1f}% {k}') for k,c in thr.most_common(25)]
print('== top frames'); [print(f'{c:6d} {100*c/n:5.1f}% {k}') for k,c in top.most_common(40)]
print('== inclusive by package prefix'); [print(f'{c:6d} {100*c/n:5.1f}% {k}') for k,c in incl.most_common(40)]
