// A <div> that is a Vue component of its own. NiceGUI re-renders the nearest component above an element
// whenever the element changes, with every element below that component: without a boundary, the progress
// line (updated with each flush of a run) re-rendered the whole run panel, each output card included.
export default {
  template: `<div><slot></slot></div>`,
};
