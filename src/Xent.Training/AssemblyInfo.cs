// Xent.Training: the model, data and checkpoints behind `xent train`. See issue 4 and README.
[assembly: System.CLSCompliant(false)]
