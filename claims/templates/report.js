// The claim matrix's verdict filter (select#filter) and the evidence box that a cell opens.
function filterRows(v){document.querySelectorAll('tr.claim').forEach(function(r){
 r.style.display=(v==='all'||r.dataset.verdicts.split(' ').indexOf(v)>=0)?'':'none';});}
function show(td){var b=document.getElementById('evidence');
 b.querySelector('h3').textContent=td.dataset.claim+' / '+td.dataset.env;
 b.querySelector('p').textContent=td.dataset.evidence;b.style.display='block';}
