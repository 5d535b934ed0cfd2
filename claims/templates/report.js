// The claim matrix's verdict filter (select#filter), the evidence box that a cell opens, and
// the scorecard's questions, each of which opens its claims in the row under it.
function filterRows(v){document.querySelectorAll('tr.claim').forEach(function(r){
 r.style.display=(v==='all'||r.dataset.verdicts.split(' ').indexOf(v)>=0)?'':'none';});}
function show(td){var b=document.getElementById('evidence');
 b.querySelector('h3').textContent=td.dataset.claim+' / '+td.dataset.env;
 b.querySelector('p').textContent=td.dataset.evidence;b.style.display='block';}
function toggleQuestion(button){var open=button.getAttribute('aria-expanded')!=='true';
 button.setAttribute('aria-expanded',open);
 document.getElementById(button.getAttribute('aria-controls')).hidden=!open;}
